package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCheckFindsLongFilesAndFunctions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	body := func(n int) string { return strings.Repeat("\t_ = 1\n", n) }
	// func line + n body lines + closing brace.
	write("a/short.go", "package a\n\nfunc ok() {\n"+body(78)+"}\n")
	write("a/long.go", "package a\n\ntype T struct{}\n\nfunc (t *T) long() {\n"+body(79)+"}\n")
	write("a/long_test.go", "package a\n\nfunc testLong() {\n"+body(200)+"}\n")
	write("b/big.go", "package b\n"+strings.Repeat("\n", 100))
	write("b/data.go", "package b\n"+strings.Repeat("\n", 100))
	write("testdata/x.go", "package x\n\nfunc long() {\n"+body(200)+"}\n")

	t.Chdir(dir)
	over, err := check(".", 90, 80, fileList{"b/data.go": true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a/long.go:5: func T.long has 81 lines",
		"b/big.go: file has 101 lines",
	}
	if strings.Join(over, "\n") != strings.Join(want, "\n") {
		t.Fatalf("check found\n%s\nwant\n%s", strings.Join(over, "\n"), strings.Join(want, "\n"))
	}
}
