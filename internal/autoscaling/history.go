package autoscaling

import (
	"math"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The HPA keeps its recommendations and scale events in process memory without a cap and
// ignores the entries that fell out of the stabilisation window or policy period (at most
// 3600 s and 1800 s, the API's limits). We keep them in status, for the whole window and
// period (never cut by count, which would forget an entry that still decides), and bound them
// by keeping only the entries that can still decide something:
//
//   - a recommendation older than the longest window is dropped (the HPA ignores it), and so
//     is one that a newer recommendation dominates: the windows are suffixes of the history
//     (now-window, now], so an older entry that is neither above every newer one (a possible
//     maximum of a scale-down window) nor below every newer one (a possible minimum of a
//     scale-up window) never decides. Recommendations recorded within the same second keep
//     only their maximum and minimum (status stores seconds). At most 2 entries per second of
//     the longest window, and in steady state one;
//   - a scale event older than the longest policy period is dropped (the HPA only reuses its
//     slot) and the events of one direction within the same second are summed into one,
//     stamped with the newest: every period's sum (getReplicasChangePerPeriod) is the same or,
//     for a cutoff inside that second, counts the whole second (never allows more). At most
//     one entry per second of the longest period.

// History is the HPA state// History is the HPA state that must survive a restart or a leader change: the
// unstabilised recommendations (for the stabilisation windows) and the recent
// scale events (for the Pods/Percent policies). The HPA keeps the same data in
// process memory (horizontal.go: recommendations, scaleUpEvents,
// scaleDownEvents); fleetscale keeps it in the object's status.
type History struct {
	// Recommendations are the replica counts the metrics asked for, before
	// stabilisation and rate limits, newest last.
	Recommendations []TimestampedReplicas `json:"recommendations,omitempty"`
	// ScaleUpEvents and ScaleDownEvents record the replica changes made while a
	// behavior is configured. Order matters: like the HPA, a new event reuses
	// the slot of the last event that is older than the longest policy period.
	ScaleUpEvents   []ScaleEvent `json:"scaleUpEvents,omitempty"`
	ScaleDownEvents []ScaleEvent `json:"scaleDownEvents,omitempty"`
}

// TimestampedReplicas is one recommendation.
type TimestampedReplicas struct {
	Replicas  int32       `json:"replicas"`
	Timestamp metav1.Time `json:"timestamp"`
}

// ScaleEvent is one change of the total, as an absolute (non-negative) count.
type ScaleEvent struct {
	ReplicaChange int32       `json:"replicaChange"`
	Timestamp     metav1.Time `json:"timestamp"`
}

// DeepCopy returns a copy that shares no slices with h, so a decision never
// aliases the caller's stored status.
func (h History) DeepCopy() History {
	return History{
		Recommendations: slices.Clone(h.Recommendations),
		ScaleUpEvents:   slices.Clone(h.ScaleUpEvents),
		ScaleDownEvents: slices.Clone(h.ScaleDownEvents),
	}
}

// IsEmpty reports whether nothing has been recorded yet.
func (h History) IsEmpty() bool {
	return len(h.Recommendations) == 0 && len(h.ScaleUpEvents) == 0 && len(h.ScaleDownEvents) == 0
}

// seedRecommendation reproduces the HPA's recordInitialRecommendation: the
// first evaluation of a new autoscaler counts the current size as a
// recommendation, so a fresh object never scales down during its first window.
func (h *History) seedRecommendation(current int32, now time.Time) {
	if len(h.Recommendations) == 0 {
		h.Recommendations = []TimestampedReplicas{{Replicas: current, Timestamp: metav1.NewTime(now)}}
	}
}

// addRecommendation appends a recommendation and drops what can no longer decide a window
// (see the comment at the top of this file): entries older than the longest stabilisation
// window and older entries dominated by newer ones.
func (h *History) addRecommendation(replicas int32, now time.Time, longestWindow time.Duration) {
	cutoff := now.Add(-longestWindow)
	all := slices.Clone(h.Recommendations)
	// Oldest first, whatever order the stored status had.
	slices.SortStableFunc(all, func(a, b TimestampedReplicas) int { return a.Timestamp.Time.Compare(b.Timestamp.Time) })
	all = append(all, TimestampedReplicas{Replicas: replicas, Timestamp: metav1.NewTime(now)})
	// Newest first: keep an entry when it is a new strict maximum or minimum of what is newer.
	var kept []TimestampedReplicas
	var hi, lo int32
	for i := len(all) - 1; i >= 0; i-- {
		rec := all[i]
		if i < len(all)-1 && rec.Timestamp.Time.Before(cutoff) {
			continue
		}
		if i == len(all)-1 || rec.Replicas > hi || rec.Replicas < lo {
			kept = append(kept, rec)
		}
		if i == len(all)-1 {
			hi, lo = rec.Replicas, rec.Replicas
		}
		hi, lo = max(hi, rec.Replicas), min(lo, rec.Replicas)
	}
	slices.Reverse(kept)
	h.Recommendations = coalesceRecommendations(kept)
}

// coalesceRecommendations keeps, among consecutive entries of the same second, the newest plus
// the group's maximum and minimum when they differ from it (a group shares one stored time, so
// only its extremes can decide; entries arrive oldest first).
func coalesceRecommendations(list []TimestampedReplicas) []TimestampedReplicas {
	var out []TimestampedReplicas
	for i := 0; i < len(list); {
		j := i
		sec := list[i].Timestamp.Unix()
		for j < len(list) && list[j].Timestamp.Unix() == sec {
			j++
		}
		group := list[i:j]
		newest := group[len(group)-1]
		hi, lo := newest, newest
		for _, rec := range group {
			if rec.Replicas > hi.Replicas {
				hi = rec
			}
			if rec.Replicas < lo.Replicas {
				lo = rec
			}
		}
		for _, rec := range []TimestampedReplicas{hi, lo} {
			if rec.Replicas != newest.Replicas {
				out = append(out, TimestampedReplicas{Replicas: rec.Replicas, Timestamp: newest.Timestamp})
			}
		}
		out = append(out, newest)
		i = j
	}
	return out
}

// storeScaleEvent reproduces the HPA's storeScaleEvent: the change is recorded in the list of
// its direction; events older than that direction's longest policy period (whose slot the HPA
// would reuse) are dropped and events within the same second are summed (see the top of this
// file).
func (h *History) storeScaleEvent(rules effectiveBehavior, prev, next int32, now time.Time) {
	if prev == next {
		return
	}
	events := &h.ScaleDownEvents
	longest := rules.down.longestPeriod()
	change := prev - next
	if next > prev {
		events = &h.ScaleUpEvents
		longest = rules.up.longestPeriod()
		change = next - prev
	}
	cutoff := now.Add(-longest)
	kept := (*events)[:0:0]
	for _, ev := range *events {
		if !ev.Timestamp.Time.Before(cutoff) {
			kept = append(kept, ev)
		}
	}
	ev := ScaleEvent{ReplicaChange: change, Timestamp: metav1.NewTime(now)}
	if n := len(kept); n > 0 && kept[n-1].Timestamp.Unix() == now.Unix() {
		ev.ReplicaChange = satAdd(kept[n-1].ReplicaChange, change)
		kept[n-1] = ev
	} else {
		kept = append(kept, ev)
	}
	*events = kept
}

// satAdd adds two non-negative changes, saturating at the int32 range.
func satAdd(a, b int32) int32 {
	if s := int64(a) + int64(b); s < math.MaxInt32 {
		return int32(s)
	}
	return math.MaxInt32
}

// replicasChangedWithin sums the changes recorded after now-period, like the
// HPA's getReplicasChangePerPeriod.
func replicasChangedWithin(events []ScaleEvent, period time.Duration, now time.Time) int64 {
	cutoff := now.Add(-period)
	var sum int64
	for _, ev := range events {
		if ev.Timestamp.Time.After(cutoff) {
			sum += int64(ev.ReplicaChange)
		}
	}
	return sum
}
