/**
 * `Symbol.dispose` and `Symbol.asyncDispose` for runtimes that predate explicit resource
 * management, so `using` and manual disposal work everywhere. Defined only when absent, as the
 * registry symbols that TypeScript's down-levelled `using` looks up.
 *
 * @module
 */

/** Defines `dispose` and `asyncDispose` on `target` (the `Symbol` constructor) when missing. */
export function defineDisposeSymbols(target: object): void {
  const symbols = target as Record<string, unknown>;
  for (const name of ["dispose", "asyncDispose"]) {
    if (typeof symbols[name] !== "symbol") {
      Object.defineProperty(target, name, { value: Symbol.for(`Symbol.${name}`) });
    }
  }
}

defineDisposeSymbols(Symbol);
