/**
 * The NOTIFY channel on which a user hears about their own lists or tasks.
 * Migration 000005's trigger computes the same name in SQL from the row's
 * user_id; here it comes from the verified token's `sub`, never from a client.
 * A hash, because a channel is an identifier of at most 63 bytes and a user id
 * may be 255 characters; 48 hex digits (192 bits) keep collisions out of reach.
 */
import { createHash } from "node:crypto";

export type ChangeTable = "tasks" | "lists";

/** One channel per table, so a subscription needs no filtering of someone's other events. */
export type ChangeChannels = Record<ChangeTable, string>;

/** A user's key outside the database; SQL's app_private.user_key(user_id) computes the same. */
export function userKey(sub: string): string {
  return createHash("sha256").update(sub, "utf8").digest("hex").slice(0, 48);
}

export function changeChannel(table: ChangeTable, sub: string): string {
  return `${table}:${userKey(sub)}`;
}

export function changeChannelsFor(sub: string): ChangeChannels {
  return { tasks: changeChannel("tasks", sub), lists: changeChannel("lists", sub) };
}

/** What the trigger sends: the event and the row's id, nothing else. */
export type ChangeNotification = {
  event: "CREATED" | "UPDATED" | "DELETED";
  id: string;
};
