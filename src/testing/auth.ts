/**
 * Token authentication and permission rules of the Stash server (v0.19), from the shape of its
 * auth file.
 *
 * @module
 */

import { isSecretKey } from "../keys.ts";

/** An access level, spelled any way the auth file accepts. In v0.19 `w` does not allow reads. */
export type AccessLevel = "r" | "read" | "w" | "write" | "rw" | "readwrite" | "read-write";

/** One permission of a token: a key pattern and what it allows. */
export interface PermissionConfig {
  /** `*` (every key), `app/*` (keys starting with `app/`) or an exact key. */
  prefix: string;
  /** What the pattern allows. */
  access: AccessLevel;
}

/** One token of the auth file. */
export interface TokenConfig {
  /** The token; `"*"` is the anonymous grant used by requests that send no token. */
  token: string;
  /**
   * Grants every operation on every key.
   * @default false
   */
  admin?: boolean;
  /**
   * What the token may do.
   * @default []
   */
  permissions?: readonly PermissionConfig[];
}

/** The server's auth file (`tokens:`; `users:` is for the web UI and ignored here). */
export interface AuthConfig {
  /** The API tokens. */
  tokens: readonly TokenConfig[];
  /** Web UI users; accepted so a parsed auth file can be passed as is, and ignored. */
  users?: readonly unknown[];
}

/** The permission an operation needs. */
export type Need = "read" | "write";

interface Rule {
  pattern: string;
  read: boolean;
  write: boolean;
  secret: boolean;
}

/** What one token (or the anonymous grant) may do. */
export interface Grant {
  /** True for the anonymous grant of token `"*"`. */
  readonly anonymous: boolean;
  /** True when the grant allows `need` on `key`. */
  can(key: string, need: Need): boolean;
}

const LEVELS: Record<AccessLevel, { read: boolean; write: boolean }> = {
  r: { read: true, write: false },
  read: { read: true, write: false },
  w: { read: false, write: true },
  write: { read: false, write: true },
  rw: { read: true, write: true },
  readwrite: { read: true, write: true },
  "read-write": { read: true, write: true },
};

/** The result of looking a request's token up. */
export type Identity =
  | { kind: "missing" }
  | { kind: "unknown" }
  | { kind: "known"; grant: Grant };

/** The tokens of an auth file, checked and ready to answer permission questions. */
export class AuthRules {
  #grants = new Map<string, Grant>();

  /** Checks `config`; throws `TypeError` naming the bad field. */
  constructor(config: AuthConfig) {
    if (!config || !Array.isArray(config.tokens)) {
      throw new TypeError(`auth.tokens must be an array, received ${typeof config?.tokens}`);
    }
    config.tokens.forEach((t, i) => {
      if (!t || typeof t.token !== "string" || t.token === "") {
        throw new TypeError(`auth.tokens[${i}].token must be a non-empty string`);
      }
      const rules = (t.permissions ?? []).map((p: PermissionConfig, j: number) =>
        toRule(p, `auth.tokens[${i}].permissions[${j}]`)
      );
      this.#grants.set(t.token, makeGrant(t.token === "*", t.admin === true, rules));
    });
  }

  /**
   * Finds the grant of a request: `X-Auth-Token` wins over `Authorization: Bearer`; without
   * either, the anonymous `"*"` grant applies when the file has one.
   */
  identify(headers: Headers): Identity {
    const token = tokenOf(headers);
    if (token === undefined) {
      const anonymous = this.#grants.get("*");
      return anonymous ? { kind: "known", grant: anonymous } : { kind: "missing" };
    }
    const grant = this.#grants.get(token);
    return grant ? { kind: "known", grant } : { kind: "unknown" };
  }
}

function tokenOf(headers: Headers): string | undefined {
  const header = headers.get("x-auth-token");
  if (header) return header;
  const authorization = headers.get("authorization");
  if (authorization?.startsWith("Bearer ")) {
    const token = authorization.slice("Bearer ".length).trim();
    if (token) return token;
  }
  return undefined;
}

function toRule(p: PermissionConfig, where: string): Rule {
  if (!p || typeof p.prefix !== "string" || p.prefix === "") {
    throw new TypeError(`${where}.prefix must be a non-empty string`);
  }
  const level = LEVELS[p.access];
  if (!level || !Object.hasOwn(LEVELS, p.access)) {
    throw new TypeError(
      `${where}.access must be one of ${Object.keys(LEVELS).join(", ")}, received ${p.access}`,
    );
  }
  return { pattern: p.prefix, ...level, secret: isSecretKey(p.prefix) };
}

function matches(pattern: string, key: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("/*")) return key.startsWith(pattern.slice(0, -1));
  return pattern === key;
}

function makeGrant(anonymous: boolean, admin: boolean, rules: Rule[]): Grant {
  return {
    anonymous,
    can(key: string, need: Need): boolean {
      if (admin) return true;
      const secret = isSecretKey(key);
      let best: Rule | undefined;
      for (const rule of rules) {
        // A secret key is granted only by patterns that are secret paths themselves.
        if (secret && !rule.secret) continue;
        if (!matches(rule.pattern, key)) continue;
        if (!best || rule.pattern.length > best.pattern.length) best = rule;
      }
      return best !== undefined && best[need];
    },
  };
}
