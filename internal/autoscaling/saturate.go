package autoscaling

import "math"

// SumReplicas adds replica counts in int64 and saturates at the int32 range, so a sum over
// many members (each up to 2³¹−1) never wraps around to a negative or small total.
func SumReplicas(counts ...int32) int32 {
	var sum int64
	for _, c := range counts {
		sum += int64(c)
	}
	return ClampReplicas(sum)
}

// ClampReplicas saturates n at the int32 range.
func ClampReplicas(n int64) int32 {
	return int32(min(max(n, math.MinInt32), math.MaxInt32))
}
