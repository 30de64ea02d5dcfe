package gateway

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// CodeRateLimited is the problem code of a request over its rate limit.
const CodeRateLimited = "rate-limited"

// rateLimits are token buckets per party, and per party and agreement for
// declarations and requests.
type rateLimits struct {
	cfg     config.RateLimits
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newRateLimits(cfg config.RateLimits) *rateLimits {
	return &rateLimits{cfg: cfg, buckets: map[string]*rate.Limiter{}}
}

// allow takes a token from the party's bucket (agreement == "") or the
// party's bucket for the agreement. When the bucket is empty it says how
// long until a token is due.
func (r *rateLimits) allow(party, agreement string) (time.Duration, bool) {
	if r == nil {
		return 0, true
	}
	var (
		limit config.Rate
		key   string
		ok    bool
	)
	if agreement == "" {
		key = party
		if limit, ok = r.cfg.Parties[party]; !ok {
			limit = r.cfg.Default
		}
	} else {
		key = party + "\x00" + agreement
		if limit, ok = r.cfg.Agreements[agreement]; !ok {
			return 0, true
		}
	}
	if limit.PerSecond <= 0 {
		return 0, true
	}
	r.mu.Lock()
	b := r.buckets[key]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(limit.PerSecond), limit.Burst)
		r.buckets[key] = b
	}
	r.mu.Unlock()
	res := b.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return d, false
	}
	return 0, true
}

// limitParty takes a token from the identified caller's bucket (identify
// runs first) and answers 429 when it is empty.
func (s *Server) limitParty(c *fiber.Ctx) error {
	id := callerParty(c)
	if wait, ok := s.limits.allow(id, ""); !ok {
		return rateLimited(id, "party", wait)
	}
	return c.Next()
}

// rateLimited is the 429 answer, with Retry-After in whole seconds.
func rateLimited(party, limit string, wait time.Duration) *Error {
	metrics.RateLimited.WithLabelValues(party, limit).Inc()
	e := problem(http.StatusTooManyRequests, CodeRateLimited, "Too many requests; slow down.").
		withDetail("the " + limit + " rate limit is reached; retry after " + strconv.Itoa(int(math.Ceil(wait.Seconds()))) + "s")
	e.RetryAfter = int(math.Ceil(wait.Seconds()))
	return e
}
