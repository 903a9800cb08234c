package decoders

import "math"

// Softmax turns class scores into probabilities in place (shifted by the largest score, so that
// exp cannot overflow) and returns the index of the largest.
func Softmax(s []float64) int {
	best := 0
	for k, v := range s {
		if v > s[best] {
			best = k
		}
	}
	m, sum := s[best], 0.0
	for k, v := range s {
		s[k] = math.Exp(v - m)
		sum += s[k]
	}
	for k := range s {
		s[k] /= sum
	}
	return best
}
