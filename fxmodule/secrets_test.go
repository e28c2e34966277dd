package fxmodule_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/redisguard/redisguard/fxmodule"
	"github.com/redisguard/redisguard/health"
	"github.com/redisguard/redisguard/internal/redistest"
	"github.com/redisguard/redisguard/profiles"
)

// The passwords of the secrets test: the server's, a wrong one, and the
// Sentinels'.
const (
	serverSecret   = "s3rver-Pa55word"
	wrongSecret    = "wr0ng-Pa55word"
	sentinelSecret = "sent1nel-Pa55word"
)

var secrets = []string{serverSecret, wrongSecret, sentinelSecret}

// syncBuffer is a bytes.Buffer safe for a monitor's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// printed returns every printable form of v: the fmt verbs, String,
// GoString, Error, json.Marshal and slog's text and JSON handlers.
func printed(v any) map[string]string {
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	if s, ok := v.(fmt.Stringer); ok {
		out["String"] = s.String()
	}
	if s, ok := v.(fmt.GoStringer); ok {
		out["GoString"] = s.GoString()
	}
	if e, ok := v.(error); ok {
		out["Error"] = e.Error()
	}
	if b, err := json.Marshal(v); err == nil {
		out["json"] = string(b)
	} else {
		out["json"] = "error: " + err.Error()
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v)
	out["slog text"], out["slog json"] = text.String(), js.String()
	return out
}

func noSecret(t *testing.T, what, form, text string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s, %s: prints the password %q: %s", what, form, s, text)
		}
	}
}

// TestNoPrintableFormHoldsAPassword is the regression test for passwords
// printed by json.Marshal(profiles.Config) and by %v, %+v and %#v of a
// *profiles.Client (fmt walked its unexported config field). It goes
// through every exported type that holds configuration, the errors that
// carry a URL, a monitor's JSON and the log lines, on a server that wants
// a password.
func TestNoPrintableFormHoldsAPassword(t *testing.T) {
	clearRedisEnv(t)
	srv := redistest.Start(t, "--requirepass", serverSecret)
	url := "redis://:" + serverSecret + "@" + srv.Addr() + "/0"

	// The "Redis connection pool initialized" lines: profiles.NewClient's
	// (on slog.Default) and the monitor's (on its Logger).
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	old := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(old)

	byURL := profiles.API()
	byURL.URL = url
	byPassword := profiles.Worker()
	byPassword.Addr, byPassword.Password = srv.Addr(), serverSecret
	sentinel := profiles.API()
	sentinel.SentinelAddrs, sentinel.SentinelMaster = []string{"127.0.0.1:26379"}, "mymaster"
	sentinel.SentinelPassword, sentinel.Password = sentinelSecret, serverSecret
	wrong := profiles.API()
	wrong.Addr, wrong.Password = srv.Addr(), wrongSecret

	pc, err := profiles.NewClient(byURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	wc, err := profiles.NewClient(wrong)
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	ctx := context.Background()
	if err := pc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	// Errors that carry a URL or a password.
	badURL := profiles.API()
	badURL.URL = "redis://:" + serverSecret + "@" + srv.Addr() + "/0?pool_size=3"
	validateErr := badURL.Validate()
	mismatch := byURL
	mismatch.Password = wrongSecret
	mismatchErr := mismatch.Validate()
	t.Setenv("REDIS_URL", "redis://:"+serverSecret+"@127.0.0.1:99999/0")
	_, envErr := profiles.FromEnv(profiles.API())
	clearRedisEnv(t)
	dead := profiles.API()
	dead.URL = "redis://:" + serverSecret + "@" + unreachable(t) + "/0"
	dc, err := profiles.NewClient(dead)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	pingErr := fxmodule.Ping(ctx, dc, time.Second)
	for name, err := range map[string]error{"Validate": validateErr, "Validate (password mismatch)": mismatchErr, "FromEnv": envErr, "fxmodule.Ping": pingErr} {
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
	var startErr error
	{
		var s sides
		app := fx.New(fx.NopLogger, fx.Supply(fxmodule.Configs{API: dead, Worker: byPassword}), fxmodule.Module, populate(&s))
		startCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		startErr = app.Start(startCtx)
		cancel()
		if startErr == nil {
			_ = app.Stop(ctx)
			t.Fatal("the app started without its API server")
		}
		// fx stops nothing after a failed start, and the Worker side's
		// OnStart never ran: close its client here.
		_ = s.WorkerClient.Close()
	}

	values := map[string]any{
		"profiles.Config (URL)":         byURL,
		"profiles.Config (Password)":    byPassword,
		"profiles.Config (Sentinel)":    sentinel,
		"*profiles.Config":              &byURL,
		"*profiles.Client":              pc,
		"profiles.Client":               *pc,
		"(*profiles.Client).Config()":   pc.Config(),
		"profiles.Retry":                byURL.Retry,
		"profiles.Hooks":                pc.Hooks,
		"fxmodule.Configs":              fxmodule.Configs{API: byURL, Worker: sentinel},
		"*fxmodule.Configs":             &fxmodule.Configs{API: byPassword, Worker: sentinel},
		"Validate error":                validateErr,
		"Validate error (mismatch)":     mismatchErr,
		"FromEnv error":                 envErr,
		"fxmodule.Ping error":           pingErr,
		"fx start error":                startErr,
		"[]*profiles.Client":            []*profiles.Client{pc, wc},
		"map of profiles.Config values": map[string]profiles.Config{"api": byURL},
	}
	for name, v := range values {
		for form, text := range printed(v) {
			noSecret(t, name, form, text)
		}
	}

	// A monitor's report and HTTP answers, with the right password and a
	// wrong one.
	for name, c := range map[string]*profiles.Client{"right password": pc, "wrong password": wc} {
		m, err := health.NewMonitor(c, health.Options{Name: name, Logger: logger, PingTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		m.Start()
		var r health.Report
		for deadline := time.Now().Add(20 * time.Second); r.Status == ""; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("no check")
			}
			r = m.Report()
		}
		m.Stop()
		if name == "wrong password" && r.LastError == "" {
			t.Fatalf("%s: no error in the report", name)
		}
		for form, text := range printed(r) {
			noSecret(t, "health.Report, "+name, form, text)
		}
		for _, path := range []string{"/health", "/pool-stats"} {
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			body, _ := io.ReadAll(rec.Body)
			noSecret(t, name, path, string(body))
		}
	}

	lines := logs.String()
	if n := strings.Count(lines, "Redis connection pool initialized"); n < 4 {
		t.Fatalf("%d \"Redis connection pool initialized\" lines, want one per client and monitor:\n%s", n, lines)
	}
	noSecret(t, "log lines", "slog JSON", lines)
}
