package autoscaling

import (
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxHistoryEntries caps each History list. The HPA keeps these lists in
// memory without a cap; we store them in status, so a burst of evaluations must
// not grow the object without bound. At the HPA's 15 s cadence a 300 s window
// holds about 20 entries, far below the cap.
const maxHistoryEntries = 64

// History is the HPA state that must survive a restart or a leader change: the
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

// addRecommendation appends a recommendation and drops what can no longer
// matter: entries older than the longest stabilisation window (the HPA ignores
// them; it only reuses their slots) and older entries with the same value as a
// newer one (the newer entry is inside every window the older one is, so it
// decides any window min or max the older one could).
func (h *History) addRecommendation(replicas int32, now time.Time, longestWindow time.Duration) {
	cutoff := now.Add(-longestWindow)
	kept := h.Recommendations[:0]
	for _, rec := range h.Recommendations {
		if rec.Timestamp.Time.Before(cutoff) || rec.Replicas == replicas {
			continue
		}
		kept = append(kept, rec)
	}
	kept = append(kept, TimestampedReplicas{Replicas: replicas, Timestamp: metav1.NewTime(now)})
	h.Recommendations = capOldest(kept, func(r TimestampedReplicas) time.Time { return r.Timestamp.Time })
}

// storeScaleEvent reproduces the HPA's storeScaleEvent: the change is recorded
// in the list of its direction, reusing the slot of the last event older than
// that direction's longest policy period, else appended.
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
	reuse := -1
	for i, ev := range *events {
		if ev.Timestamp.Time.Before(cutoff) {
			reuse = i
		}
	}
	ev := ScaleEvent{ReplicaChange: change, Timestamp: metav1.NewTime(now)}
	if reuse >= 0 {
		(*events)[reuse] = ev
	} else {
		*events = append(*events, ev)
	}
	*events = capOldest(*events, func(e ScaleEvent) time.Time { return e.Timestamp.Time })
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

// capOldest removes the oldest entries beyond maxHistoryEntries, keeping the
// order of the rest.
func capOldest[T any](list []T, at func(T) time.Time) []T {
	for len(list) > maxHistoryEntries {
		oldest := 0
		for i := range list {
			if at(list[i]).Before(at(list[oldest])) {
				oldest = i
			}
		}
		list = slices.Delete(list, oldest, oldest+1)
	}
	return list
}
