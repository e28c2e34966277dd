package profiles_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redisguard/redisguard/profiles"
)

// TestDocTableMatchesPresets: the preset table of the package documentation
// says what API() and Worker() return (it once said the Worker retried 5
// times with a 5 s longest backoff while the code said 10 and 2 s).
func TestDocTableMatchesPresets(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][2]string{}
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimPrefix(line, "//\t")
		if len(line) < 47 {
			continue
		}
		f := strings.Fields(line[31:])
		if len(f) >= 2 {
			rows[strings.TrimSpace(line[:31])] = [2]string{f[0], f[1]}
		}
	}
	api, worker := profiles.API(), profiles.Worker()
	itoa := strconv.Itoa
	dur := func(d time.Duration) string { // as the table writes them: 50ms, 2s, 120s
		if d%time.Second == 0 {
			return strconv.Itoa(int(d/time.Second)) + "s"
		}
		return d.String()
	}
	orDash := func(d time.Duration) string { // 0: the hooks' default
		if d == 0 {
			return "-"
		}
		return dur(d)
	}
	for name, want := range map[string][2]string{
		"pool size":                   {itoa(api.PoolSize), itoa(worker.PoolSize)},
		"socket (read/write) timeout": {dur(api.SocketTimeout), dur(worker.SocketTimeout)},
		"blocking-op timeout cap":     {dur(api.BlockingTimeout), dur(worker.BlockingTimeout)},
		"health check interval":       {dur(api.HealthCheckInterval), dur(worker.HealthCheckInterval)},
		"retry attempts":              {itoa(api.Retry.MaxAttempts), itoa(worker.Retry.MaxAttempts)},
		"retry first backoff":         {dur(api.Retry.InitialInterval), dur(worker.Retry.InitialInterval)},
		"retry longest backoff":       {dur(api.Retry.MaxInterval), dur(worker.Retry.MaxInterval)},
		"retry time budget":           {dur(api.Retry.MaxElapsed), dur(worker.Retry.MaxElapsed)},
		"on an open circuit":          {api.Retry.OpenCircuit, worker.Retry.OpenCircuit},
		"breaker open timeout":        {orDash(api.BreakerOpenTimeout), orDash(worker.BreakerOpenTimeout)},
	} {
		got, ok := rows[name]
		if !ok {
			t.Errorf("doc.go: no row %q in the preset table", name)
			continue
		}
		if got != want {
			t.Errorf("doc.go row %q says API %s, Worker %s; the presets are %s and %s", name, got[0], got[1], want[0], want[1])
		}
	}
}
