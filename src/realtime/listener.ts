/**
 * The one LISTEN connection behind every subscription (@dataplan/pg's PgSubscriber),
 * with a way to hear that it was lost. PgSubscriber then ends the subscriptions it
 * carried, since events may have been missed, but Grafast can end a stream without
 * telling the client why; `onLost` lets the sockets be closed with a code instead.
 */
import type { Pool, PoolClient } from "pg";
import { PgSubscriber } from "postgraphile/adaptors/pg";

export function makeListener(pool: Pool, onLost: (error: Error) => void): PgSubscriber {
  // PgSubscriber takes its listening connection with pool.connect() and nothing else.
  const watched = {
    async connect(): Promise<PoolClient> {
      const client = await pool.connect();
      let lost: Error | undefined;
      const onError = (error: Error) => {
        lost = error;
        onLost(error);
      };
      client.on("error", onError);
      const release = client.release.bind(client);
      client.release = (error?: Error | boolean) => {
        client.off("error", onError);
        // A connection that died goes back as broken, so the pool discards it.
        return release(error ?? lost);
      };
      return client;
    },
  };
  return new PgSubscriber(watched as unknown as Pool);
}
