/**
 * The Bearer rule, one for both ways a token arrives: an HTTP `Authorization`
 * header, or `authorization` in a WebSocket's connectionParams.
 */
import { TokenError } from "./jwt";

const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

/** The JWT in an `Authorization` value; TokenError otherwise. */
export function bearerToken(value: string): string {
  const match = BEARER.exec(value.trim());
  if (!match) throw new TokenError("header", 'Authorization header must be "Bearer <JWT>"');
  return match[1]!;
}
