// Command sizecheck reports the module's non-test Go files longer than
// -max-file lines and its functions longer than -max-func lines, and exits
// 1 when it finds any.
//
//	go run ./internal/sizecheck [-max-file 500] [-max-func 80] [-exempt FILE ...]
//
// A file's length is its number of lines. A function's length counts the
// lines from its func keyword to its closing brace, both included (a doc
// comment is not counted). Test files and testdata are not checked; nested
// modules (extra/...) are, as part of the tree. -exempt names a
// file, relative to the root, whose length is not checked (its functions
// still are): the command table's data is such a file.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type fileList map[string]bool

func (l fileList) String() string { return fmt.Sprint(map[string]bool(l)) }

func (l fileList) Set(s string) error {
	l[filepath.ToSlash(filepath.Clean(s))] = true
	return nil
}

func main() {
	maxFile := flag.Int("max-file", 500, "longest allowed non-test Go file, in lines")
	maxFunc := flag.Int("max-func", 80, "longest allowed function, in lines from func to closing brace")
	exempt := fileList{}
	flag.Var(exempt, "exempt", "FILE: do not check this file's length (repeatable)")
	flag.Parse()

	over, err := check(".", *maxFile, *maxFunc, exempt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizecheck:", err)
		os.Exit(2)
	}
	sort.Strings(over)
	for _, o := range over {
		fmt.Println(o)
	}
	if len(over) > 0 {
		fmt.Printf("%d over (files > %d lines, functions > %d lines)\n", len(over), *maxFile, *maxFunc)
		os.Exit(1)
	}
	fmt.Printf("ok: no file over %d lines, no function over %d lines\n", *maxFile, *maxFunc)
}

// check walks root, skipping testdata and hidden folders.
func check(root string, maxFile, maxFunc int, exempt fileList) ([]string, error) {
	var over []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == root {
				return nil
			}
			name := d.Name()
			if strings.HasPrefix(name, ".") || name == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(path)
		if n := fset.File(f.Pos()).LineCount(); n > maxFile && !exempt[rel] {
			over = append(over, fmt.Sprintf("%s: file has %d lines", rel, n))
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start := fset.Position(fn.Type.Func).Line
			end := fset.Position(fn.Body.Rbrace).Line
			if n := end - start + 1; n > maxFunc {
				over = append(over, fmt.Sprintf("%s:%d: func %s has %d lines", rel, start, funcName(fn), n))
			}
		}
		return nil
	})
	return over, err
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if ix, ok := t.(*ast.IndexListExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
