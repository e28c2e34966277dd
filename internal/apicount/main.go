// Command apicount counts the exported names of the module's library
// packages, per package, and checks them against targets.
//
//	go run ./internal/apicount [-max-total N] [-max PKG=N ...] [-v]
//
// An exported name is a package-level exported const, var, func or type,
// and an exported method of an exported type; -members also counts the
// exported fields of structs and methods of interfaces. Test files,
// internal/, examples/, extra/ and main packages are not counted. It exits
// 1 when a target is exceeded.
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
	"strconv"
	"strings"
)

var withMembers bool

type limits map[string]int

func (l limits) String() string { return fmt.Sprint(map[string]int(l)) }

func (l limits) Set(s string) error {
	pkg, n, ok := strings.Cut(s, "=")
	v, err := strconv.Atoi(n)
	if !ok || err != nil || v < 0 {
		return fmt.Errorf("want PKG=N, got %q", s)
	}
	l[pkg] = v
	return nil
}

func main() {
	maxTotal := flag.Int("max-total", 0, "fail when the total exceeds N (0: no target)")
	per := limits{}
	flag.Var(per, "max", "PKG=N: fail when package PKG (folder path) exceeds N; repeatable")
	verbose := flag.Bool("v", false, "list every exported name")
	flag.BoolVar(&withMembers, "members", false, "also count struct fields and interface methods")
	flag.Parse()

	counts, names, err := count(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "apicount:", err)
		os.Exit(2)
	}
	pkgs := make([]string, 0, len(counts))
	for p := range counts {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	total, failed := 0, false
	for _, p := range pkgs {
		n := counts[p]
		total += n
		mark := ""
		if m, ok := per[p]; ok {
			mark = fmt.Sprintf(" (target %d)", m)
			if n > m {
				mark += " OVER"
				failed = true
			}
		}
		fmt.Printf("%-12s %4d%s\n", p, n, mark)
		if *verbose {
			for _, name := range names[p] {
				fmt.Printf("    %s\n", name)
			}
		}
	}
	mark := ""
	if *maxTotal > 0 {
		mark = fmt.Sprintf(" (target %d)", *maxTotal)
		if total > *maxTotal {
			mark += " OVER"
			failed = true
		}
	}
	fmt.Printf("%-12s %4d%s\n", "total", total, mark)
	if failed {
		os.Exit(1)
	}
}

// count walks root and returns, per package folder, the number of exported
// names and the names themselves.
func count(root string) (map[string]int, map[string][]string, error) {
	counts := map[string]int{}
	names := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			base := d.Name()
			if path != root && (strings.HasPrefix(base, ".") || base == "internal" || base == "examples" || base == "testdata" || base == "extra") {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // a nested module
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if pkg == "." {
			pkg = f.Name.Name
		}
		for _, n := range exported(f) {
			counts[pkg]++
			names[pkg] = append(names[pkg], n)
		}
		return nil
	})
	for p := range names {
		sort.Strings(names[p])
	}
	return counts, names, err
}

// exported lists the exported names a file declares.
func exported(f *ast.File) []string {
	var out []string
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			if d.Recv == nil {
				out = append(out, d.Name.Name)
				continue
			}
			if recv := recvName(d.Recv.List[0].Type); ast.IsExported(recv) {
				out = append(out, recv+"."+d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							out = append(out, n.Name)
						}
					}
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					out = append(out, s.Name.Name)
					if withMembers {
						out = append(out, members(s.Name.Name, s.Type)...)
					}
				}
			}
		}
	}
	return out
}

// members lists the exported fields of a struct type and the exported
// methods of an interface type.
func members(typ string, t ast.Expr) []string {
	var list *ast.FieldList
	switch x := t.(type) {
	case *ast.StructType:
		list = x.Fields
	case *ast.InterfaceType:
		list = x.Methods
	default:
		return nil
	}
	var out []string
	for _, fld := range list.List {
		for _, n := range fld.Names {
			if n.IsExported() {
				out = append(out, typ+"."+n.Name)
			}
		}
	}
	return out
}

func recvName(t ast.Expr) string {
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
