/**
 * The one LISTEN connection behind every subscription and behind revocation
 * (@dataplan/pg's PgSubscriber), with a way to hear that it was lost. PgSubscriber
 * then ends the subscriptions it carried, since events may have been missed, but
 * Grafast can end a stream without telling the client why; `onLost` lets the
 * sockets be closed with a code instead, and revocation stop trusting its copy.
 */
import type { Pool, PoolClient } from "pg";
import { PgSubscriber } from "postgraphile/adaptors/pg";

export interface Listener {
  subscriber: PgSubscriber;
  /** Called when the listening connection fails (it is replaced on the next LISTEN). */
  onLost(callback: (error: Error) => void): void;
}

export function makeListener(pool: Pool): Listener {
  const callbacks: Array<(error: Error) => void> = [];
  const onLost = (error: Error) => {
    for (const callback of callbacks) callback(error);
  };
  // PgSubscriber takes its listening connection with pool.connect() and nothing else.
  const watched = {
    async connect(): Promise<PoolClient> {
      const client = await pool.connect();
      client.on("error", onLost);
      // Once back in the pool the connection may serve a request, whose failures are not the listener's.
      // (A connection that died is discarded by the pool itself: pg marks it unqueryable.)
      const forget = (_error: Error | undefined, released: PoolClient) => {
        if (released !== client) return;
        client.off("error", onLost);
        pool.off("release", forget);
      };
      pool.on("release", forget);
      return client;
    },
  };
  return {
    subscriber: new PgSubscriber(watched as unknown as Pool),
    onLost: (callback) => void callbacks.push(callback),
  };
}
