package detect

// What a node usually does, judged from its baselines: a rule whose real
// signal is "unusual for this node" stays quiet when the node does the same
// thing routinely.

// usualShare: a node does something routinely when at least this share of
// its recent history (the baseline window) does it. A router returning {}
// in every run, a validator that writes feedback in a third of them, a
// lookup that misses its cache in one run of five are all routine.
const usualShare = 0.1

// isUsual: count of n recent observations is routine for the node.
func isUsual(count, n int) bool {
	return n > 0 && float64(count) >= usualShare*float64(n)
}
