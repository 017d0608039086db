package notify

import "time"

// A Rollout's news to one provider is limited twice: the same news (same kind, revision,
// rollout attempt and message) goes once per dedupWindow, and a token bucket lets rateBurst
// messages through at once and then one per rateRefill.
const (
	dedupWindow = 5 * time.Minute
	rateBurst   = 10
	rateRefill  = 6 * time.Second
	forgetAfter = 30 * time.Minute // an idle Rollout's state is dropped after this long
	sweepEvery  = time.Minute
)

// limiter keeps the limits' state by Rollout and provider. Its owner serialises calls.
type limiter struct {
	state     map[string]*rolloutState
	lastSweep time.Time
}

type rolloutState struct {
	tokens   float64
	refilled time.Time
	sent     map[string]time.Time // news keys, when last admitted
}

// admit returns the result that drops the news, or "" after counting it as sent.
func (l *limiter) admit(key, newsKey string, now time.Time) string {
	l.sweep(now)
	st := l.state[key]
	if st == nil {
		st = &rolloutState{tokens: rateBurst, refilled: now, sent: map[string]time.Time{}}
		l.state[key] = st
	}
	if last, ok := st.sent[newsKey]; ok && now.Sub(last) < dedupWindow {
		return ResultDuplicate
	}
	st.tokens = min(rateBurst, st.tokens+now.Sub(st.refilled).Seconds()/rateRefill.Seconds())
	st.refilled = now
	if st.tokens < 1 {
		return ResultRateLimited
	}
	st.tokens--
	st.sent[newsKey] = now
	return ""
}

// forget lets news that could not be delivered be sent again.
func (l *limiter) forget(key, newsKey string) {
	if st := l.state[key]; st != nil {
		delete(st.sent, newsKey)
	}
}

// sweep drops what no longer limits anything, at most once per sweepEvery.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	for key, st := range l.state {
		if now.Sub(st.refilled) > forgetAfter {
			delete(l.state, key)
			continue
		}
		for news, at := range st.sent {
			if now.Sub(at) >= dedupWindow {
				delete(st.sent, news)
			}
		}
	}
}
