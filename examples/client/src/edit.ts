/**
 * Editing without losing anyone's changes (optimistic concurrency): read the task with
 * its `version`, compute the change from what was read, and write it with
 * `expectedVersion`. If someone else wrote in between, the API changes nothing and
 * answers CONFLICT; then read again and compute the change from the fresh task — or,
 * when the change cannot be recomputed (a text the user typed over), show the user
 * both versions and ask.
 */
import type { Client } from "@urql/core";
import { ApiError, run } from "./client";
import type { TaskPatch, TaskSummaryFragment } from "./gql/graphql";
import { EditTask, ReadTask } from "./operations";

export interface Conflict {
  rowId: string;
  /** The version this attempt read and sent. */
  expectedVersion: number;
  /** The version the API reported (someone else's write). */
  currentVersion: number;
}

export interface EditOptions {
  /** How many times to read and write before giving up (default 3). */
  attempts?: number;
  /** Told about every CONFLICT before the task is read again. */
  onConflict?: (conflict: Conflict) => void;
}

/**
 * Applies `change` to the task as it is when written. `change` may run more than once,
 * each time with the task as just read. Returns the written task and how many attempts
 * it took; throws the last CONFLICT after `attempts` (time to ask the user).
 */
export async function editTask(
  client: Client,
  rowId: string,
  change: (task: TaskSummaryFragment) => TaskPatch | Promise<TaskPatch>,
  { attempts = 3, onConflict }: EditOptions = {},
): Promise<{ task: TaskSummaryFragment; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    const { task } = await run(client, ReadTask, { rowId });
    if (!task) throw new ApiError("NOT_FOUND", "the task is gone");
    const patch = await change(task);
    try {
      const { updateTask } = await run(client, EditTask, { rowId, patch, expectedVersion: task.version });
      if (!updateTask?.task) throw new ApiError("INTERNAL", "updateTask returned no task");
      return { task: updateTask.task, attempts: attempt };
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== "CONFLICT" || attempt >= attempts) throw error;
      onConflict?.({ rowId, expectedVersion: task.version, currentVersion: Number(error.extensions.currentVersion) });
    }
  }
}
