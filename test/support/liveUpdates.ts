/**
 * Helpers for live-update tests: a graphql-ws client on the API's socket, and
 * `Changes`, one subscription's events read one at a time.
 */
import { createClient, type Client as WsClient } from "graphql-ws";
import WebSocket from "ws";
import type { TestApi } from "./api";
import type { User } from "./tokens";

/** What the helpers need of an API: where it is, and GraphQL over HTTP. */
export type Endpoint = Pick<TestApi, "url" | "graphql">;

export interface Change {
  event: "CREATED" | "UPDATED" | "DELETED";
  rowId: string;
  node: Record<string, unknown> | null;
}

export type ChangeField = "taskChanged" | "listChanged";

const SUBSCRIPTIONS: Record<ChangeField, string> = {
  taskChanged: "subscription { taskChanged { event rowId task { rowId title userId } } }",
  listChanged: "subscription { listChanged { event rowId list { rowId name userId } } }",
};

/** Fails the test instead of hanging it; never used to wait for something to happen. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export interface Socket {
  client: WsClient;
  /** How the server closed the socket. */
  closed: Promise<{ code: number; reason: string }>;
  /** The connection_ack payload, once connected. */
  ack(): Record<string, unknown> | undefined;
}

/** A graphql-ws client that never retries, so every close is seen as the server made it. */
export function openSocket(endpoint: Endpoint, connectionParams: Record<string, unknown> | undefined): Socket {
  let resolveClosed: (event: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve));
  let ackPayload: Record<string, unknown> | undefined;
  const client = createClient({
    url: `${endpoint.url.replace(/^http/, "ws")}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    on: {
      connected: (_socket, payload) => (ackPayload = payload as Record<string, unknown> | undefined),
      closed: (event) => resolveClosed(event as { code: number; reason: string }),
    },
  });
  return { client, closed, ack: () => ackPayload };
}

/** GraphQL over HTTP as `owner`; any error fails the test. */
export async function gql(endpoint: Endpoint, owner: User, query: string, variables: Record<string, unknown> = {}) {
  const { body } = await endpoint.graphql(query, variables, { token: owner.token });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

export async function createTask(endpoint: Endpoint, owner: User, title: string): Promise<string> {
  const mutation = `mutation ($t: String!) { createTask(input: { task: { title: $t } }) { task { rowId } } }`;
  return (await gql(endpoint, owner, mutation, { t: title })).createTask.task.rowId;
}

type Result = IteratorResult<{ data?: any; errors?: unknown }>;

/** One subscription's events, read one at a time; events about probe rows are skipped. */
export class Changes {
  private pending: Promise<Result> | undefined;
  private readonly probes = new Set<string>();
  private readonly iterator: AsyncIterableIterator<{ data?: any; errors?: unknown }>;

  constructor(
    client: WsClient,
    private readonly field: ChangeField,
    private readonly endpoint: Endpoint,
  ) {
    this.iterator = client.iterate({ query: SUBSCRIPTIONS[field] });
  }

  private raw(): Promise<Result> {
    this.pending ??= this.iterator.next();
    return this.pending;
  }

  async next(ms = 5000): Promise<Change> {
    for (;;) {
      const result = await within(this.raw(), ms, `the next ${this.field} event`);
      this.pending = undefined;
      if (result.done) throw new Error(`${this.field} ended`);
      if (result.value.errors) throw new Error(`${this.field} failed: ${JSON.stringify(result.value.errors)}`);
      const { event, rowId, task, list } = result.value.data[this.field];
      if (this.probes.has(rowId)) continue;
      return { event, rowId, node: task ?? list ?? null };
    }
  }

  /**
   * Resolves once the server is really LISTENing. A subscription's LISTEN is set up
   * after the subscribe message is accepted, and no message says when; so the owner
   * changes a probe row of their own until its event arrives.
   */
  async live(owner: User, ms = 10_000): Promise<void> {
    const probe = await this.createProbe(owner);
    this.probes.add(probe);
    const deadline = Date.now() + ms;
    for (let attempt = 0; ; attempt++) {
      await this.touchProbe(owner, probe, attempt);
      const result = await Promise.race([this.raw(), new Promise<null>((r) => setTimeout(() => r(null), 200))]);
      if (result) {
        this.pending = undefined;
        if (result.done || result.value.errors) throw new Error(`${this.field} failed before it was live`);
        if (result.value.data[this.field].rowId === probe) return;
      }
      if (Date.now() > deadline) throw new Error(`${this.field} never became live`);
    }
  }

  private async createProbe(owner: User): Promise<string> {
    if (this.field === "taskChanged") return createTask(this.endpoint, owner, "probe");
    const mutation = `mutation { createList(input: { list: { name: "probe" } }) { list { rowId } } }`;
    return (await gql(this.endpoint, owner, mutation)).createList.list.rowId;
  }

  private async touchProbe(owner: User, rowId: string, attempt: number): Promise<void> {
    const mutation =
      this.field === "taskChanged"
        ? `mutation ($id: UUID!, $v: String!) { updateTask(input: { rowId: $id, patch: { title: $v } }) { clientMutationId } }`
        : `mutation ($id: UUID!, $v: String!) { updateList(input: { rowId: $id, patch: { name: $v } }) { clientMutationId } }`;
    await gql(this.endpoint, owner, mutation, { id: rowId, v: `probe ${attempt}` });
  }
}
