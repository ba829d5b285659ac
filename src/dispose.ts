/**
 * `Symbol.dispose` and `Symbol.asyncDispose` for runtimes that predate explicit resource
 * management, so `using` and manual disposal work everywhere. Defined only when absent, as the
 * well-known registry symbols TypeScript's own down-levelled `using` looks up.
 *
 * @module
 */

const symbols = Symbol as unknown as Record<string, symbol | undefined>;
for (const name of ["dispose", "asyncDispose"]) {
  if (typeof symbols[name] !== "symbol") {
    Object.defineProperty(Symbol, name, { value: Symbol.for(`Symbol.${name}`) });
  }
}
