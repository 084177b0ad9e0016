/**
 * PromQL inspection for the tests: parse with lezer-promql (the grammar of Prometheus's own
 * editor), report error nodes, and list the selectors with their matchers and the function
 * whose range they feed.
 */
import { parser } from "@prometheus-io/lezer-promql";

type SyntaxNode = ReturnType<typeof parser.parse>["topNode"];

export interface LabelMatcher {
  readonly label: string;
  readonly op: string;
  /** Unquoted value. */
  readonly value: string;
}

export interface VectorSelectorInfo {
  readonly metric: string;
  readonly matchers: readonly LabelMatcher[];
  /** Function the selector's range vector is passed to (`rate`, `increase`, ...), if any. */
  readonly rangeFunction?: string;
  /** Text of the range, e.g. `5m` (after interpolation). */
  readonly range?: string;
}

export interface QuantileCall {
  /** Labels of the `sum by (...)` that the bucket rates are aggregated with; undefined if there is none. */
  readonly groupingLabels?: readonly string[];
}

export interface ParsedPromql {
  readonly errors: readonly string[];
  readonly selectors: readonly VectorSelectorInfo[];
  readonly quantileCalls: readonly QuantileCall[];
  /** Right-hand operands of `/` that are neither a number nor `(... > 0)`. */
  readonly unguardedDivisors: readonly string[];
}

const text = (source: string, node: SyntaxNode): string => source.slice(node.from, node.to);

/** Value of a PromQL string literal (double-quoted: JSON escapes; single or backtick: as written). */
function unquote(literal: string): string {
  return literal.startsWith('"') ? (JSON.parse(literal) as string) : literal.slice(1, -1);
}

function children(node: SyntaxNode): SyntaxNode[] {
  const result: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) result.push(child);
  return result;
}

function selectorInfo(source: string, node: SyntaxNode): VectorSelectorInfo {
  const matchers: LabelMatcher[] = [];
  const matcherList = node.getChild("LabelMatchers");
  for (const matcher of matcherList ? children(matcherList) : []) {
    const label = matcher.getChild("LabelName") ?? matcher.getChild("QuotedLabelName");
    const op = matcher.getChild("MatchOp");
    const value = matcher.getChild("StringLiteral");
    if (label && op && value) matchers.push({ label: text(source, label), op: text(source, op), value: unquote(text(source, value)) });
  }
  const identifier = node.getChild("Identifier");
  const metric = identifier ? text(source, identifier) : (matchers.find((m) => m.label === "__name__")?.value ?? "");

  // VectorSelector -> MatrixSelector -> FunctionCallBody -> FunctionCall
  const matrix = node.parent?.type.name === "MatrixSelector" ? node.parent : undefined;
  const call = matrix?.parent?.type.name === "FunctionCallBody" ? matrix.parent.parent : undefined;
  const fn = call?.getChild("FunctionIdentifier");
  const range = matrix?.getChild("DurationExpr") ?? matrix?.lastChild ?? undefined;
  return {
    metric,
    matchers: matchers.filter((m) => m.label !== "__name__"),
    ...(fn ? { rangeFunction: text(source, fn) } : {}),
    ...(matrix && range ? { range: text(source, range) } : {}),
  };
}

function quantileCall(source: string, call: SyntaxNode): QuantileCall {
  const args = children(call.getChild("FunctionCallBody") ?? call).filter((n) => !n.type.isError);
  const aggregate = args.find((n) => n.type.name === "AggregateExpr");
  const grouping = aggregate?.getChild("AggregateModifier")?.getChild("GroupingLabels");
  if (!aggregate || !grouping) return {};
  return { groupingLabels: children(grouping).map((label) => text(source, label)) };
}

/** `x / 100` and `x / (y > 0)` are fine; `x / y` divides by zero when y is 0. */
function unguardedDivisor(source: string, binary: SyntaxNode): string | undefined {
  const parts = children(binary);
  const opIndex = parts.findIndex((n) => n.type.name === "Div");
  if (opIndex < 0) return undefined;
  const divisor = parts[parts.length - 1];
  if (!divisor || divisor.type.name === "NumberDurationLiteral") return undefined;
  const inner = divisor.type.name === "ParenExpr" ? divisor.firstChild : undefined;
  if (inner?.type.name === "BinaryExpr") {
    const innerParts = children(inner);
    const guard = innerParts.some((n) => n.type.name === "Gtr") && text(source, innerParts[innerParts.length - 1] ?? inner) === "0";
    if (guard) return undefined;
  }
  return text(source, divisor);
}

export function parsePromql(source: string): ParsedPromql {
  const tree = parser.parse(source);
  const errors: string[] = [];
  const selectors: VectorSelectorInfo[] = [];
  const quantileCalls: QuantileCall[] = [];
  const unguardedDivisors: string[] = [];
  tree.iterate({
    enter: (ref) => {
      const node = ref.node;
      if (node.type.isError) {
        errors.push(`syntax error at ${node.from}: …${source.slice(Math.max(0, node.from - 20), node.from)}⟨here⟩${source.slice(node.from, node.from + 20)}…`);
      } else if (node.type.name === "VectorSelector") {
        selectors.push(selectorInfo(source, node));
      } else if (node.type.name === "FunctionCall" && node.getChild("FunctionIdentifier")?.getChild("HistogramQuantile")) {
        quantileCalls.push(quantileCall(source, node));
      } else if (node.type.name === "BinaryExpr") {
        const divisor = unguardedDivisor(source, node);
        if (divisor !== undefined) unguardedDivisors.push(divisor);
      }
    },
  });
  return { errors, selectors, quantileCalls, unguardedDivisors };
}
