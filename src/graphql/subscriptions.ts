/**
 * Live updates: `taskChanged` and `listChanged` stream the caller's own changes.
 * Neither takes an argument: the topic is the caller's channel, derived on the
 * server from the verified token (realtime/channels.ts), so there is nothing a
 * client could point at someone else's. A notification carries only the event
 * and the row's id; the row itself is read again, per event, in a transaction
 * with the subscriber's identity, so row-level security decides what is shown.
 */
import { jsonParse, type JSONParseStep } from "postgraphile/@dataplan/json";
import { context, lambda, listen } from "postgraphile/grafast";
import { extendSchema, gql } from "postgraphile/utils";
import { ApiError } from "../errors";
import type { ChangeChannels, ChangeNotification, ChangeTable } from "../realtime/channels";

declare global {
  namespace Grafast {
    interface Context {
      /** The caller's own change channels; absent for an anonymous caller. */
      changeChannels?: ChangeChannels;
    }
  }
}

type ChangeStep = JSONParseStep<ChangeNotification>;

export const SubscriptionsPlugin = extendSchema((build) => {
  const { tasks, lists } = build.input.pgRegistry.pgResources;
  if (!tasks || !lists) throw new Error("SubscriptionsPlugin: the tasks and lists resources are missing");

  const changesOf = (table: ChangeTable) => ({
    subscribePlan() {
      const $topic = lambda(context().get("changeChannels"), (channels) => {
        // Given only to a signed-in WebSocket (graphile.config.ts): HTTP and anonymous callers stop here.
        if (!channels) {
          throw new ApiError(
            "BAD_USER_INPUT",
            "subscriptions are served over WebSocket (graphql-ws), to signed-in users",
          );
        }
        return channels[table];
      });
      return listen(context().get("pgSubscriber"), $topic, ($payload) => jsonParse<ChangeNotification>($payload));
    },
    plan($event: ChangeStep) {
      return $event;
    },
  });

  return {
    typeDefs: gql`
      """
      What happened to a row.
      """
      enum ChangeEvent {
        CREATED
        UPDATED
        DELETED
      }

      """
      One change to one of your tasks.
      """
      type TaskChange {
        event: ChangeEvent!
        """
        The changed task's rowId (also given when it was deleted).
        """
        rowId: UUID!
        """
        The task as it is now, read with your permissions; null once it is deleted.
        """
        task: Task
      }

      """
      One change to one of your lists.
      """
      type ListChange {
        event: ChangeEvent!
        """
        The changed list's rowId (also given when it was deleted).
        """
        rowId: UUID!
        """
        The list as it is now, read with your permissions; null once it is deleted.
        """
        list: List
      }

      extend type Subscription {
        """
        Your tasks as they are created, updated and deleted (over WebSocket, graphql-ws). Only your own.
        """
        taskChanged: TaskChange!
        """
        Your lists as they are created, updated and deleted (over WebSocket, graphql-ws). Only your own.
        """
        listChanged: ListChange!
      }
    `,
    objects: {
      Subscription: { plans: { taskChanged: changesOf("tasks"), listChanged: changesOf("lists") } },
      TaskChange: {
        plans: {
          event: ($event: ChangeStep) => $event.get("event"),
          rowId: ($event: ChangeStep) => $event.get("id"),
          task: ($event: ChangeStep) => tasks.get({ id: $event.get("id") }),
        },
      },
      ListChange: {
        plans: {
          event: ($event: ChangeStep) => $event.get("event"),
          rowId: ($event: ChangeStep) => $event.get("id"),
          list: ($event: ChangeStep) => lists.get({ id: $event.get("id") }),
        },
      },
    },
  };
}, "TasksSubscriptionsPlugin");
