package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/redisguard/redisguard/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hits is how many GET /hits the test sends: as many INCRs on the API
// client, each timed once.
const hits = 5

// The program serves the figures of both clients on /metrics after real
// traffic, through the Prometheus collector and, with -otel, through
// OpenTelemetry's Prometheus exporter.
func TestServesMetrics(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "metrics")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range []struct {
		name       string
		args       []string
		label      string // the label naming the client
		state      string // the breaker state's name (OpenTelemetry's exporter adds _ratio for the unit "1")
		stateLabel string // the label naming a breaker state
		op         string // the label naming the operation
	}{
		{"prometheus", nil, "client", "redisguard_breaker_state", "state", "operation"},
		{"otel", []string{"-otel"}, "redisguard_client", "redisguard_breaker_state_ratio", "redisguard_breaker_state", "db_operation_name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := redistest.Start(t)
			base := start(t, bin, append([]string{"-addr", "127.0.0.1:0"}, c.args...), "REDIS_URL=redis://"+srv.Addr())
			for i := 1; i <= hits; i++ {
				if body := get(t, base+"/hits"); body != fmt.Sprintf("hits: %d\n", i) {
					t.Fatalf("GET /hits: %q, want hits: %d", body, i)
				}
			}
			fams := scrape(t, base+"/metrics")
			for _, client := range []string{"api", "worker"} {
				state := find(fams, c.state, map[string]string{c.label: client, c.stateLabel: "closed"})
				if state == nil || state.GetGauge().GetValue() != 1 {
					t.Errorf("redisguard_breaker_state of the %s client, closed: %v, want 1", client, state)
				}
				if find(fams, "redisguard_limiter_in_flight", map[string]string{c.label: client}) == nil {
					t.Errorf("no redisguard_limiter_in_flight for the %s client", client)
				}
			}
			incr := find(fams, "db_client_operation_duration_seconds", map[string]string{c.label: "api", c.op: "INCR"})
			if got := incr.GetHistogram().GetSampleCount(); got != hits {
				t.Errorf("db_client_operation_duration_seconds of INCR on the api client: count %d, want %d", got, hits)
			}
		})
	}
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// start runs the program until the test ends (SIGINT, then it must exit
// with status 0) and returns its base URL.
func start(t *testing.T, bin string, args []string, env ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		for range lines { // read to the end, so that the program never blocks on its output
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("after SIGINT: %v, want exit status 0", err)
		}
	})
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the program ended before it listened")
			}
			if m := listening.FindStringSubmatch(line); m != nil {
				return m[1]
			}
		case <-timeout:
			t.Fatal("the program did not listen within a minute")
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, body, err)
	}
	return string(body)
}

// scrape reads url as the Prometheus text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(get(t, url)))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// find returns the first series of the family name with every label in
// want, or nil.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	for _, m := range fams[name].GetMetric() {
		n := 0
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				n++
			}
		}
		if n == len(want) {
			return m
		}
	}
	return nil
}
