/**
 * What one operation may read, decided from the document and its variables
 * before anything runs: every connection's page size (literal, variable,
 * variable default, or the default page), and the worst-case number of rows the
 * operation reads — a connection's page multiplied by everything nested in its
 * items, summed over fields, aliases and fragments.
 *
 * graphql-armor's cost-limit prices fields and depth, not page sizes, so it
 * would let `tasks { nodes { list { tasks { … } } } }` through at 100³ rows and
 * refuse a wide but single-row query; this walk prices what the database does.
 */
import {
  getNamedType,
  getOperationAST,
  GraphQLError,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from "postgraphile/graphql";
import { errorExtensions } from "../errors";

export interface CostRules {
  /** Largest `first`/`last`. */
  pageSize: number;
  /** The page of a connection given neither `first` nor `last`. */
  defaultPageSize: number;
  /** Most rows one operation may read, worst case. */
  cost: number;
  /** Most rows each event of a subscription may read: every change runs every subscription's selection again. */
  subscriptionCost: number;
}

export const limitExceeded = (limit: string, message: string, nodes?: GraphQLError["nodes"]) =>
  new GraphQLError(message, { nodes, extensions: errorExtensions("LIMIT_EXCEEDED", { limit }) });

const badInput = (message: string, nodes: GraphQLError["nodes"]) =>
  new GraphQLError(message, { nodes, extensions: errorExtensions("BAD_USER_INPUT") });

/**
 * Rows below one parent. In a connection's selection, `perItem` is what each of
 * its items costs (the item itself excluded) and `items` whether any are read.
 */
interface Cost {
  fixed: number;
  perItem: number;
  items: boolean;
}
const FREE: Cost = { fixed: 0, perItem: 0, items: false };
const add = (a: Cost, b: Cost): Cost => ({
  fixed: a.fixed + b.fixed,
  perItem: a.perItem + b.perItem,
  items: a.items || b.items,
});

/** Where a selection set is: on a row or other object, on a connection, or on an edge. */
type Place = "object" | "connection" | "edge";

class Walk {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly defaults = new Map<string, ValueNode | undefined>();
  private readonly memo = new Map<string, Cost>();
  private readonly entered = new Set<string>();
  /** The first refused argument; the walk goes on only to finish its sums. */
  violation: GraphQLError | undefined;

  constructor(
    private readonly schema: GraphQLSchema,
    document: DocumentNode,
    operationVariables: readonly { variable: { name: { value: string } }; defaultValue?: ValueNode }[],
    private readonly variables: Record<string, unknown>,
    private readonly rules: CostRules,
  ) {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(definition.name.value, definition);
    }
    for (const definition of operationVariables) {
      this.defaults.set(definition.variable.name.value, definition.defaultValue);
    }
  }

  selections(selectionSet: SelectionSetNode, type: GraphQLCompositeType, place: Place): Cost {
    let total = FREE;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        total = add(total, this.field(selection, type, place));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? this.compositeType(selection.typeCondition.name.value) : type;
        if (on) total = add(total, this.selections(selection.selectionSet, on, place));
      } else {
        total = add(total, this.fragment(selection.name.value, place));
      }
    }
    return total;
  }

  /** A fragment costs the same wherever it is spread (costs are per parent), so each is walked once per place. */
  private fragment(name: string, place: Place): Cost {
    const key = `${place}:${name}`;
    const known = this.memo.get(key);
    if (known) return known;
    const fragment = this.fragments.get(name);
    const on = fragment && this.compositeType(fragment.typeCondition.name.value);
    // A cycle is a validation error already; never recurse into one.
    if (!fragment || !on || this.entered.has(key)) return FREE;
    this.entered.add(key);
    const cost = this.selections(fragment.selectionSet, on, place);
    this.entered.delete(key);
    this.memo.set(key, cost);
    return cost;
  }

  private field(node: FieldNode, parent: GraphQLCompositeType, place: Place): Cost {
    const name = node.name.value;
    if (name.startsWith("__") || !(isObjectType(parent) || isInterfaceType(parent))) return FREE;
    const field = parent.getFields()[name];
    if (!field) return FREE;
    const type: GraphQLNamedType = getNamedType(field.type);
    const below = (at: Place) =>
      node.selectionSet && isCompositeType(type) ? this.selections(node.selectionSet, type, at) : FREE;

    if (place === "connection" && (name === "nodes" || name === "edges")) {
      return { fixed: 0, perItem: below(name === "nodes" ? "object" : "edge").fixed, items: true };
    }
    if (place === "connection" && name === "pageInfo") return FREE;
    // An edge's node is the connection's item, counted there.
    if (place === "edge" && name === "node") return { ...FREE, fixed: below("object").fixed };
    if (place === "connection") {
      // totalCount, aggregates, groupedAggregates: one aggregate over the set, whatever its page.
      return { ...FREE, fixed: 1 + below("object").fixed };
    }
    if (isConnection(field)) {
      const page = this.page(node);
      const inner = below("connection");
      return { ...FREE, fixed: inner.fixed + (inner.items ? page * (1 + inner.perItem) : 0) };
    }
    // A single related row (a task's list, a payload's task): one row, not multiplied.
    return { ...FREE, fixed: (isRow(type) ? 1 : 0) + below("object").fixed };
  }

  /** The connection's page: `first`/`last` as sent, else the default; refuses negative and oversized values. */
  private page(node: FieldNode): number {
    const value = (argument: string): number | null => {
      const given = node.arguments?.find((arg) => arg.name.value === argument);
      const raw = given ? this.valueOf(given.value) : undefined;
      if (typeof raw !== "number") return null; // absent or null; anything else fails coercion before it runs
      if (raw < 0) this.violation ??= badInput(`${argument} must not be negative`, given && [given]);
      else if (argument !== "offset" && raw > this.rules.pageSize) {
        this.violation ??= limitExceeded(
          "pageSize",
          `${argument} may be at most ${this.rules.pageSize}; page through larger results with cursors`,
          given && [given],
        );
      }
      return raw;
    };
    const first = value("first");
    const last = value("last");
    value("offset");
    const sizes = [first, last].filter((n): n is number => n !== null).map((n) => Math.max(n, 0));
    return sizes.length ? Math.min(...sizes) : this.rules.defaultPageSize;
  }

  /** A literal, or a variable's value as sent, or its declared default when it was not sent. */
  private valueOf(value: ValueNode): unknown {
    switch (value.kind) {
      case Kind.INT:
        return Number(value.value);
      case Kind.NULL:
        return null;
      case Kind.VARIABLE: {
        const name = value.name.value;
        if (Object.hasOwn(this.variables, name)) return this.variables[name];
        const fallback = this.defaults.get(name);
        return fallback && fallback.kind !== Kind.VARIABLE ? this.valueOf(fallback) : undefined;
      }
      default:
        return undefined;
    }
  }

  private compositeType(name: string): GraphQLCompositeType | undefined {
    const type = this.schema.getType(name);
    return type && isCompositeType(type) ? type : undefined;
  }
}

/** A row of a table: the types Relay can refetch (Task, List). */
const isRow = (type: GraphQLNamedType) =>
  isObjectType(type) && type.getInterfaces().some((i) => i.name === "Node") && type.name !== "Query";

/** A paginated field: it takes `first` and returns a type with `nodes` or `edges`. */
function isConnection(field: GraphQLField<unknown, unknown>): boolean {
  const type = getNamedType(field.type);
  return (
    field.args.some((arg) => arg.name === "first") &&
    isObjectType(type) &&
    ("nodes" in type.getFields() || "edges" in type.getFields())
  );
}

export interface Assessment {
  /** Worst-case rows the operation reads. */
  rows: number;
  /** Why it must not run, if it must not. */
  error: GraphQLError | undefined;
}

/** Prices the operation that `operationName` selects; a document that selects none is left to grafast. */
export function assessOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  rules: CostRules,
): Assessment {
  const operation = getOperationAST(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return { rows: 0, error: undefined };
  const walk = new Walk(schema, document, operation.variableDefinitions ?? [], variables ?? {}, rules);
  const rows = walk.selections(operation.selectionSet, root, "object").fixed;
  const subscription = operation.operation === "subscription";
  const budget = subscription ? rules.subscriptionCost : rules.cost;
  const error =
    walk.violation ??
    (rows > budget
      ? limitExceeded(
          "cost",
          `${subscription ? "each event of this subscription" : "this operation"} could read up to ${rows} rows, ` +
            `more than the ${budget} allowed; ask for smaller pages (first/last) or fewer nested connections`,
        )
      : undefined);
  return { rows, error };
}
