package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRewriteFileWrapsEveryConstructorCall(t *testing.T) {
	src := `package redis_test

import (
	"context"

	goredis "github.com/redis/go-redis/v9"
)

var global = goredis.NewClient(&goredis.Options{})

type holder struct{ c goredis.UniversalClient }

func f(ctx context.Context) (*goredis.Ring, error) {
	c := goredis.NewClusterClient(&goredis.ClusterOptions{})
	_ = holder{c: goredis.NewUniversalClient(&goredis.UniversalOptions{})}
	goredis.NewFailoverClient(&goredis.FailoverOptions{}).Ping(ctx)
	if err := goredis.NewClient(&goredis.Options{}).Close(); err != nil {
		return nil, err
	}
	list := []*goredis.ClusterClient{goredis.NewFailoverClusterClient(&goredis.FailoverOptions{})}
	_ = list
	_ = c
	newFn := goredis.NewClient
	_ = newFn
	return goredis.NewRing(&goredis.RingOptions{}), nil
}
`
	out, pkg, calls, values, err := rewriteFile("x_test.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if pkg != "redis_test" {
		t.Fatalf("package %q", pkg)
	}
	want := map[string]int{"NewClient": 2, "NewClusterClient": 1, "NewUniversalClient": 1,
		"NewFailoverClient": 1, "NewFailoverClusterClient": 1, "NewRing": 1}
	for k, n := range want {
		if calls[k] != n {
			t.Errorf("%s wrapped %d times, want %d (all: %v)", k, calls[k], n, calls)
		}
	}
	if got := strings.Count(string(out), guardFunc+"(goredis.New"); got != 7 {
		t.Errorf("%d guarded calls in the output, want 7:\n%s", got, out)
	}
	for _, s := range []string{
		guardFunc + "(goredis.NewFailoverClient(&goredis.FailoverOptions{})).Ping(ctx)",
		"return " + guardFunc + "(goredis.NewRing(&goredis.RingOptions{})), nil",
		"newFn := goredis.NewClient\n",
	} {
		if !strings.Contains(string(out), s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if len(values) != 1 || !strings.Contains(values[0], "goredis.NewClient") {
		t.Errorf("constructors used as values: %v, want the one newFn takes", values)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "out.go", out, 0); err != nil {
		t.Errorf("output does not parse: %v\n%s", err, out)
	}
}

func TestRewriteFileLeavesInternalTestsAlone(t *testing.T) {
	src := "package redis\n\nfunc f() { _ = NewClient(&Options{}) }\n"
	out, pkg, calls, _, err := rewriteFile("x_test.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if pkg != "redis" || string(out) != src || len(calls) != 0 {
		t.Errorf("internal file changed: package %q, calls %v:\n%s", pkg, calls, out)
	}
}

func TestRewriteDirWritesTheGuard(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a_test.go": "package redis_test\n\nimport \"github.com/redis/go-redis/v9\"\n\nvar c = redis.NewClient(nil)\n",
		"b_test.go": "package redis\n\nvar d = NewClient(nil)\n",
		"c.go":      "package redis\n\nfunc NewClient(*Options) *Client { return nil }\n",
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := rewriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 1 || st.Calls["NewClient"] != 1 || len(st.Internal) != 1 || st.Internal[0] != "b_test.go" {
		t.Errorf("stats %+v", st)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "a_test.go"))
	if !strings.Contains(string(a), guardFunc+"(redis.NewClient(nil))") {
		t.Errorf("a_test.go not rewritten:\n%s", a)
	}
	if _, err := os.Stat(filepath.Join(dir, guardFileName)); err != nil {
		t.Errorf("guard file: %v", err)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), guardFileName, guardFile, 0); err != nil {
		t.Errorf("guard file does not parse: %v", err)
	}
}
