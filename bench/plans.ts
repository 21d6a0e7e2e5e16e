/**
 * Reading EXPLAIN (FORMAT JSON) plans: which relations are scanned how, and whether
 * the identity sub-select is an InitPlan evaluated once. Shared by bench/explain.ts
 * and the plan-shape test (test/db/plans.test.ts).
 */
import type { Client } from "pg";

export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Parent Relationship"?: string;
  "Subplan Name"?: string;
  "Actual Loops"?: number;
  Plans?: PlanNode[];
}

export interface PlanShape {
  /** Every scan of a table or an index (a Bitmap Heap Scan names the table, its Bitmap Index Scan the index). */
  scans: Array<{ node: string; relation?: string; index?: string }>;
  /** InitPlans and how often each ran (EXPLAIN ANALYZE only). */
  initPlans: Array<{ name: string; loops: number | undefined }>;
  /** Sub-plans run per row (what a policy without its sub-select turns into). */
  subPlans: string[];
}

export function planShape(root: PlanNode): PlanShape {
  const shape: PlanShape = { scans: [], initPlans: [], subPlans: [] };
  const visit = (node: PlanNode) => {
    if (node["Relation Name"] || node["Index Name"]) {
      shape.scans.push({
        node: node["Node Type"],
        ...(node["Relation Name"] ? { relation: node["Relation Name"] } : {}),
        ...(node["Index Name"] ? { index: node["Index Name"] } : {}),
      });
    }
    if (node["Parent Relationship"] === "InitPlan") {
      shape.initPlans.push({ name: node["Subplan Name"] ?? "InitPlan", loops: node["Actual Loops"] });
    }
    if (node["Parent Relationship"] === "SubPlan") shape.subPlans.push(node["Subplan Name"] ?? "SubPlan");
    node.Plans?.forEach(visit);
  };
  visit(root);
  return shape;
}

export interface Explained {
  plan: PlanNode;
  executionMs: number;
}

/** EXPLAIN of `sql` with `params` bound, through `client` as whatever identity it has now. */
export async function explain(client: Client, sql: string, params: unknown[], analyze: boolean): Promise<Explained> {
  const options = analyze ? "analyze, buffers, format json" : "format json";
  const { rows } = await client.query<{ "QUERY PLAN": Array<{ Plan: PlanNode; "Execution Time"?: number }> }>(
    `explain (${options}) ${sql}`,
    params,
  );
  const [result] = rows[0]!["QUERY PLAN"];
  return { plan: result!.Plan, executionMs: result!["Execution Time"] ?? 0 };
}

/** Names of the indexes on `table` whose first column is user_id. */
export async function userIdIndexes(client: Client, table: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `select i.relname as name
       from pg_index x
       join pg_class i on i.oid = x.indexrelid
       join pg_attribute a on a.attrelid = x.indrelid and a.attnum = x.indkey[0]
      where x.indrelid = $1::regclass and a.attname = 'user_id'`,
    [table],
  );
  return rows.map((r) => r.name);
}

/**
 * The same statement with the owner's filter written out, for comparison without RLS:
 * `__tasks__."user_id" = $<n>` added to (or as) its where clause.
 */
export function withExplicitUser(sql: string, parameter: number): string {
  const table = `"app_public"."tasks" as __tasks__`;
  const filter = `(__tasks__."user_id" = $${parameter})`;
  if (!sql.includes(table)) throw new Error(`not a query on tasks: ${sql}`);
  return sql.includes(`${table} where `)
    ? sql.replace(`${table} where `, `${table} where ${filter} and `)
    : sql.replace(table, `${table} where ${filter}`);
}

/**
 * True when every table is reached through an index from `allowed`: no Seq Scan, and
 * each index used is one of them (a Bitmap Heap Scan is judged by its index scan).
 */
export function usesOnlyIndexes(shape: PlanShape, allowed: Set<string>): boolean {
  return (
    shape.scans.length > 0 && shape.scans.every((s) => (s.index ? allowed.has(s.index) : s.node === "Bitmap Heap Scan"))
  );
}

/** current_user_id() became an InitPlan that ran once (when analysed), and nothing runs per row. */
export function identityEvaluatedOnce(shape: PlanShape): boolean {
  return (
    shape.initPlans.length > 0 &&
    shape.initPlans.every((p) => p.loops === undefined || p.loops === 1) &&
    shape.subPlans.length === 0
  );
}
