/**
 * The output limit sent upstream: the one rule every route and protocol uses.
 *
 * An admission reserves budget for at most `admitted` output tokens in all. An upstream left
 * without an output limit, or with a larger one than was reserved, writes until its own maximum
 * (16,000 tokens and more for current models), far beyond the reservation. So a limit goes
 * upstream whenever the client's own limit does not already keep the answer within the
 * reservation — including when the client sent none and the admin set no `maxOutputTokens`.
 *
 * Invariant: with `choices` answers of at most the returned limit each (or the client's own,
 * when null is returned), the output never exceeds `admitted` (for `admitted >= choices`).
 */
export function upstreamOutputLimit(admitted: number, requestedPerChoice: number | null, choices: number): number | null {
  const n = Math.max(1, Math.floor(choices));
  const perChoice = Math.max(1, Math.floor(admitted / n));
  if (requestedPerChoice !== null && requestedPerChoice <= perChoice) return null;
  return perChoice;
}
