/**
 * Per-user quotas on the subscription socket (docs/subscriptions.md, "Limits"), keyed by
 * the verified `sub`: sockets open at once, subscriptions across all of them, and inbound
 * messages as one token bucket shared by all of them, so opening more sockets buys nothing.
 */

export interface WebSocketLimits {
  /** Sockets one user may hold open at once. */
  socketsPerUser: number;
  /** Subscriptions one user may run at once, over all of their sockets. */
  subscriptionsPerUser: number;
  /** Messages one user may send per interval, over all of their sockets (also the burst allowed). */
  messagesPerInterval: number;
  messageIntervalMs: number;
}

/** One socket's share of its user's quota. */
export interface SocketQuota {
  /** Subscriptions running (or being set up) on all of the user's open sockets. */
  subscriptions(): number;
  /** Spends one message of the user's budget; false when none is left (nothing is spent then). */
  takeMessage(): boolean;
  /** Gives the socket's place back; call when the socket closes. Idempotent. */
  release(): void;
}

interface UserState {
  /** Each open socket's own subscription count. */
  sockets: Set<() => number>;
  /** Token bucket: messages left, as of `refilledAt`. */
  tokens: number;
  refilledAt: number;
  /** Set while no socket is open: drops this state once the bucket is full again. */
  expiry?: NodeJS.Timeout;
}

export class WebSocketQuotas {
  private readonly users = new Map<string, UserState>();

  constructor(
    readonly limits: WebSocketLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A place for one more socket of `user`, or undefined when they already hold
   * `socketsPerUser`. `subscriptionsOnSocket` reports that socket's own count.
   */
  admit(user: string, subscriptionsOnSocket: () => number): SocketQuota | undefined {
    let state = this.users.get(user);
    if (state && state.sockets.size >= this.limits.socketsPerUser) return undefined;
    if (!state) {
      state = { sockets: new Set(), tokens: this.limits.messagesPerInterval, refilledAt: this.now() };
      this.users.set(user, state);
    }
    clearTimeout(state.expiry);
    state.expiry = undefined;
    const member = () => subscriptionsOnSocket();
    state.sockets.add(member);
    const owner = state;
    let released = false;
    return {
      subscriptions: () => {
        let total = 0;
        for (const count of owner.sockets) total += count();
        return total;
      },
      takeMessage: () => {
        this.refill(owner);
        if (owner.tokens < 1) return false;
        owner.tokens -= 1;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        owner.sockets.delete(member);
        if (owner.sockets.size === 0) this.forgetWhenFull(user, owner);
      },
    };
  }

  /** Users with state kept: an open socket, or a message budget still refilling. */
  get size(): number {
    return this.users.size;
  }

  /** Sockets `user` holds open. */
  sockets(user: string): number {
    return this.users.get(user)?.sockets.size ?? 0;
  }

  private refill(state: UserState) {
    const now = this.now();
    const { messagesPerInterval, messageIntervalMs } = this.limits;
    state.tokens = Math.min(
      messagesPerInterval,
      state.tokens + ((now - state.refilledAt) * messagesPerInterval) / messageIntervalMs,
    );
    state.refilledAt = now;
  }

  /**
   * The spent budget must outlive the user's last socket, or closing every socket and
   * reconnecting would refill it; once it is full again the state is the same as none.
   */
  private forgetWhenFull(user: string, state: UserState) {
    this.refill(state);
    const { messagesPerInterval, messageIntervalMs } = this.limits;
    const msUntilFull = ((messagesPerInterval - state.tokens) * messageIntervalMs) / messagesPerInterval;
    const forget = () => {
      if (state.sockets.size === 0 && this.users.get(user) === state) this.users.delete(user);
    };
    if (msUntilFull <= 0) return forget();
    // unref: a pending cleanup must not keep a stopping process alive.
    state.expiry = setTimeout(forget, Math.ceil(msUntilFull)).unref();
  }
}
