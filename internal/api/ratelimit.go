package api

import (
	"math"
	"sync"
	"time"
)

// maxIdleBuckets bounds the limiter's memory: past it, buckets that have
// refilled completely (and so carry no state) are dropped.
const maxIdleBuckets = 10000

// rateLimiter is a token bucket per tenant: each bucket holds up to perMinute
// tokens and refills at perMinute per minute; a request takes one token.
type rateLimiter struct {
	perMinute float64
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(perMinute int, now func() time.Time) *rateLimiter {
	return &rateLimiter{perMinute: float64(perMinute), now: now, buckets: make(map[string]*bucket)}
}

// allow takes a token from key's bucket. When none is left it reports false
// and how long until the next token.
func (l *rateLimiter) allow(key string) (time.Duration, bool) {
	now := l.now()
	rate := l.perMinute / float64(time.Minute) // tokens per nanosecond
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxIdleBuckets {
			l.prune(now, rate)
		}
		b = &bucket{tokens: l.perMinute, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(l.perMinute, b.tokens+float64(elapsed)*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration(math.Ceil((1 - b.tokens) / rate)), false
}

func (l *rateLimiter) prune(now time.Time, rate float64) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.last))*rate >= l.perMinute {
			delete(l.buckets, k)
		}
	}
}

// peek reports, without taking a token, how many whole requests key may
// make now and when the next one may be made (now if any may).
func (l *rateLimiter) peek(key string) (remaining int, next time.Time) {
	now := l.now()
	rate := l.perMinute / float64(time.Minute)
	l.mu.Lock()
	defer l.mu.Unlock()
	tokens := l.perMinute
	if b, ok := l.buckets[key]; ok {
		tokens = math.Min(l.perMinute, b.tokens+float64(max(now.Sub(b.last), 0))*rate)
	}
	if tokens >= 1 {
		return int(tokens), now
	}
	return 0, now.Add(time.Duration(math.Ceil((1 - tokens) / rate)))
}
