package detect

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func sortedMedian(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// refRobust computes the median and MAD by sorting, the definition that
// the quickselect of robustStats must reproduce exactly.
func refRobust(samples []uint32) robust {
	med := func(v []float64) float64 {
		slices.Sort(v)
		if n := len(v); n%2 == 1 {
			return v[n/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	xs := make([]float64, len(samples))
	for i, s := range samples {
		xs[i] = float64(s)
	}
	m := med(xs)
	for i, x := range xs {
		xs[i] = math.Abs(x - m)
	}
	return robust{median: m, mad: med(xs), n: len(samples)}
}

func TestMedianAndMAD(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for n := 1; n < 300; n += 7 {
		for _, spread := range []int{1, 3, 1000} {
			samples := make([]uint32, n)
			for i := range samples {
				samples[i] = uint32(r.IntN(spread))
			}
			got := robustStats(samples, nil)
			sorted := make([]float64, n)
			for i, s := range samples {
				sorted[i] = float64(s)
			}
			slices.Sort(sorted)
			want := sortedMedian(sorted)
			dev := make([]float64, n)
			for i, x := range sorted {
				dev[i] = math.Abs(x - want)
			}
			slices.Sort(dev)
			if got.median != want || got.mad != sortedMedian(dev) || got.n != n {
				t.Fatalf("n=%d spread=%d: got %+v, want median %v mad %v", n, spread, got, want, sortedMedian(dev))
			}
		}
	}
	// Constant baseline: MAD is zero, z stays finite.
	c := robustStats([]uint32{100, 100, 100, 100, 100}, nil)
	if c.mad != 0 || math.IsInf(c.zScore(1000), 0) || c.zScore(100) != 0 {
		t.Fatalf("constant baseline: %+v z=%v", c, c.zScore(1000))
	}
}

// Every size up to past the window, with random, few-valued, constant,
// sorted and reversed samples (the partitions' equal-to-pivot path and the
// insertion sort of the last few included).
func TestRobustStatsSameAsSorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for n := 1; n <= 260; n++ {
		for kind := range 6 {
			s := make([]uint32, n)
			for i := range s {
				switch kind {
				case 0:
					s[i] = rng.Uint32()
				case 1:
					s[i] = uint32(rng.IntN(4))
				case 2:
					s[i] = 7
				case 3:
					s[i] = uint32(i)
				case 4:
					s[i] = uint32(n - i)
				case 5:
					s[i] = 100 + uint32(rng.NormFloat64()*10+0.5)
				}
			}
			want := refRobust(s)
			if got := robustStats(s, nil); got != want {
				t.Fatalf("n=%d kind=%d: robustStats = %+v, want %+v", n, kind, got, want)
			}
		}
	}
}
