// One colour per member, the same in every dashboard chart and in the HTML report: members
// are sorted by name and take palette colours in that order, so a member keeps its colour
// whichever chart, page or report shows it (given the same set of members).

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#475569', '#ea580c'];

/** Member names sorted the one way every view sorts them. */
export function sortedMembers(names: Iterable<string>): string[] {
  return [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Colour by member name over the run's (or consortium's) whole member set. */
export function memberColors(names: Iterable<string>): Map<string, string> {
  return new Map(sortedMembers(names).map((name, i) => [name, PALETTE[i % PALETTE.length]!]));
}
