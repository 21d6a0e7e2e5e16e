/**
 * Who is calling, held in one place: the HTTP middleware records it for a
 * request, the WebSocket server for a socket (by its upgrade request), and
 * GraphQL reads it here when it builds an operation's context.
 */
import type { IncomingMessage } from "node:http";
import type { Claims } from "./jwt";

/** Verified claims, or null for an anonymous caller. */
export type Identity = Claims | null;

const identities = new WeakMap<IncomingMessage, Identity>();

export function setIdentity(request: IncomingMessage, identity: Identity): void {
  identities.set(request, identity);
}

/** The identity recorded for this request or socket; undefined when authentication never ran. */
export function identityOf(request: IncomingMessage): Identity | undefined {
  return identities.get(request);
}
