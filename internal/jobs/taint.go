package jobs

import "time"

// Taint is a member's taint state, kept in status as softTaintedUntil and hardTaintedUntil. A
// zero time means no such taint.
type Taint struct {
	SoftUntil time.Time
	HardUntil time.Time
}

// Hard reports whether a hard taint holds at now.
func (t Taint) Hard(now time.Time) bool { return now.Before(t.HardUntil) }

// Soft reports whether a soft taint, and no hard one, holds at now.
func (t Taint) Soft(now time.Time) bool { return !t.Hard(now) && now.Before(t.SoftUntil) }

// Tainted reports whether the member may get no new Jobs at now.
func (t Taint) Tainted(now time.Time) bool { return t.Hard(now) || t.Soft(now) }

// Until is when the taint that holds at now ends (zero when untainted).
func (t Taint) Until(now time.Time) time.Time {
	switch {
	case t.Hard(now):
		return t.HardUntil
	case t.Soft(now):
		return t.SoftUntil
	}
	return time.Time{}
}

// Expire drops the taints that ended by now.
func (t Taint) Expire(now time.Time) Taint {
	if !t.Hard(now) {
		t.HardUntil = time.Time{}
	}
	if !now.Before(t.SoftUntil) || t.Hard(now) {
		t.SoftUntil = time.Time{}
	}
	return t
}

// Fail records one failure of the member at now (one of its Jobs failed over): an untainted
// member gets a soft taint for soft; a member already tainted (soft or hard) gets a hard taint
// for hard from now.
func (t Taint) Fail(now time.Time, soft, hard time.Duration) Taint {
	if t.Tainted(now) {
		return Taint{HardUntil: now.Add(hard)}
	}
	return Taint{SoftUntil: now.Add(soft)}
}
