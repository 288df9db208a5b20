package detect

import "math"

// Robust statistics of a baseline: median and MAD, which a few past
// outliers cannot drag around, and the robust z-score.

// madScale makes the MAD a consistent estimator of the standard deviation
// for normally distributed data.
const madScale = 1.4826

// robust holds the median and MAD of a sample.
type robust struct {
	median, mad float64
	n           int
}

func robustStats(samples []uint32, scratch []float64) robust {
	n := len(samples)
	if n == 0 {
		return robust{}
	}
	xs := scratch[:0]
	for _, s := range samples {
		xs = append(xs, float64(s))
	}
	med := median(xs)
	for i, x := range xs {
		xs[i] = math.Abs(x - med)
	}
	return robust{median: med, mad: median(xs), n: n}
}

// median reorders xs (quickselect, expected linear time).
func median(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return selectKth(xs, n/2)
	}
	hi := selectKth(xs, n/2)
	lo := xs[0] // after selection, xs[:n/2] holds the smaller half
	for _, x := range xs[1 : n/2] {
		lo = max(lo, x)
	}
	return (lo + hi) / 2
}

// selectKth partially sorts xs so xs[k] is the k-th smallest and returns it.
func selectKth(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		// Median of three as pivot: sorted or constant samples stay linear.
		mid := lo + (hi-lo)/2
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}

// zScore is the robust z of x. The MAD is floored at 5% of the median (and
// one unit) so a constant baseline gives a large but finite z; the relative
// and absolute gates then decide.
func (r robust) zScore(x float64) float64 {
	scale := madScale * max(r.mad, 0.05*math.Abs(r.median), 1)
	return (x - r.median) / scale
}
