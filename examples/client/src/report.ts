/**
 * What the example prints: one event per step, as a sentence for people or, with
 * --json, as one JSON object per line for programs (the test reads those).
 */
export type Event =
  | { step: "signedIn"; userId: string }
  | { step: "createdList"; rowId: string; name: string }
  | { step: "createdTask"; rowId: string; title: string; priority: string; tags: string[] }
  | { step: "listedPage"; page: number; rowIds: string[]; totalCount: number; hasNextPage: boolean }
  | { step: "completedTask"; rowId: string; title: string; completedAt: string }
  | { step: "otherDeviceEdited"; rowId: string; title: string }
  | { step: "conflict"; rowId: string; expectedVersion: number; currentVersion: number }
  | { step: "editedTask"; rowId: string; title: string; version: number; attempts: number }
  | {
      step: "aggregated";
      total: number;
      open: number;
      /** Task counts by grouping key, the key as Postgres casts it to text ("true", "high"). */
      byCompleted: Record<string, number>;
      byPriority: Record<string, number>;
    }
  | { step: "failed"; code: string; message: string };

function sentence(event: Event): string {
  switch (event.step) {
    case "signedIn":
      return `signed in as ${event.userId}`;
    case "createdList":
      return `created list "${event.name}" (${event.rowId})`;
    case "createdTask":
      return `created task "${event.title}" [${event.priority}] ${event.tags.map((tag) => `#${tag}`).join(" ")}`;
    case "listedPage":
      return `page ${event.page}: ${event.rowIds.length} of ${event.totalCount} tasks${event.hasNextPage ? ", more to come" : ""}`;
    case "completedTask":
      return `completed "${event.title}" at ${event.completedAt}`;
    case "otherDeviceEdited":
      return `meanwhile another device renamed it "${event.title}"`;
    case "conflict":
      return `conflict: expected version ${event.expectedVersion}, it is at ${event.currentVersion}; reading it again`;
    case "editedTask":
      return `edited "${event.title}" (version ${event.version}, ${event.attempts} attempts)`;
    case "aggregated":
      return `${event.total} tasks, ${event.open} open; by completed ${JSON.stringify(event.byCompleted)}, by priority ${JSON.stringify(event.byPriority)}`;
    case "failed":
      return `failed: ${event.message} (${event.code})`;
  }
}

export function makeReporter(json: boolean): (event: Event) => void {
  return (event) => process.stdout.write(`${json ? JSON.stringify(event) : sentence(event)}\n`);
}
