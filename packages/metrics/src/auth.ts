/**
 * Basic and bearer authentication for the metrics paths.
 *
 * Credentials are compared as SHA-256 digests with crypto.timingSafeEqual: equal-length
 * inputs make the comparison constant-time, and hashing first hides the secret's length.
 * Both checks of a basic pair always run (no short-circuit), so timing does not tell a
 * wrong user from a wrong password.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AuthConfig } from "./config";

export const AUTH_REALM = "tops-worker metrics";

export interface Authenticator {
  /** True when the Authorization header carries valid credentials. */
  check(authorization: string | undefined): boolean;
  /** WWW-Authenticate challenges for a 401, one per configured scheme. */
  readonly challenges: readonly string[];
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

function sameSecret(expected: Buffer, given: string): boolean {
  return timingSafeEqual(expected, digest(given));
}

export function createAuthenticator(auth: AuthConfig): Authenticator {
  const user = auth.basic ? digest(auth.basic.user) : null;
  const password = auth.basic ? digest(auth.basic.password) : null;
  const token = auth.token !== null ? digest(auth.token) : null;
  const challenges: string[] = [];
  if (user) challenges.push(`Basic realm="${AUTH_REALM}", charset="UTF-8"`);
  if (token) challenges.push(`Bearer realm="${AUTH_REALM}"`);

  return Object.freeze({
    challenges: Object.freeze(challenges),
    check(authorization: string | undefined): boolean {
      if (!authorization) return false;
      const space = authorization.indexOf(" ");
      if (space < 0) return false;
      const scheme = authorization.slice(0, space).toLowerCase();
      const credentials = authorization.slice(space + 1).trim();
      if (scheme === "bearer" && token) return sameSecret(token, credentials);
      if (scheme === "basic" && user && password) {
        const decoded = Buffer.from(credentials, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon < 0) return false;
        const userOk = sameSecret(user, decoded.slice(0, colon));
        const passwordOk = sameSecret(password, decoded.slice(colon + 1));
        return userOk && passwordOk;
      }
      return false;
    },
  });
}
