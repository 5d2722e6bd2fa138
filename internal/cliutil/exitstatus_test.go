package cliutil

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/edgetuf/edgetuf/internal/interrupt"
)

// TestExitStatusesAreDocumented: the commands exit only with the
// documented statuses. Every ExitError in the code base carries one of
// the named statuses (or 1, which `mclient tuf` spells out), and no
// os.Exit passes a constant other than 0 or 1, so that 2 is left to the
// Go runtime, which exits 2 on a crash (exit-status.txtar in cmd/mclient
// and cmd/mrepo provoke one).
func TestExitStatusesAreDocumented(t *testing.T) {
	t.Parallel()
	if ExitFailure != 1 || ExitCrash != 2 || ExitUsage != 64 || ExitSIGINT != 130 || ExitSIGTERM != 143 {
		t.Fatalf("statuses %d %d %d %d %d", ExitFailure, ExitCrash, ExitUsage, ExitSIGINT, ExitSIGTERM)
	}
	if ExitTempFail != 75 {
		t.Fatalf("ExitTempFail %d", ExitTempFail)
	}
	allowed := map[string]bool{"ExitFailure": true, "ExitUsage": true, "ExitTempFail": true, "ExitSIGINT": true, "ExitSIGTERM": true}
	name := func(e ast.Expr) string {
		switch e := e.(type) {
		case *ast.Ident:
			return e.Name
		case *ast.SelectorExpr:
			return e.Sel.Name
		}
		return ""
	}
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	seen, files := 0, 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// bench/ holds developer tools, not shipped commands (genpair
		// exits 2 on a usage error, as package flag does).
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "bench" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if name(n.Type) != "ExitError" {
					return true
				}
				for _, el := range n.Elts {
					kv, ok := el.(*ast.KeyValueExpr)
					if !ok || name(kv.Key) != "Code" {
						continue
					}
					seen++
					switch v := kv.Value.(type) {
					case *ast.BasicLit:
						if v.Value != "1" {
							t.Errorf("%s: ExitError with status %s: use a documented status (ExitFailure, ExitUsage, ExitSIGINT, ExitSIGTERM)", fset.Position(v.Pos()), v.Value)
						}
					case *ast.CallExpr:
						if name(v.Fun) != "SignalStatus" {
							t.Errorf("%s: ExitError with a computed status", fset.Position(v.Pos()))
						}
					default:
						if !allowed[name(v)] {
							t.Errorf("%s: ExitError with status %s", fset.Position(v.Pos()), name(v))
						}
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && name(sel.X) == "os" && sel.Sel.Name == "Exit" && len(n.Args) == 1 {
					if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Value != "0" && lit.Value != "1" {
						t.Errorf("%s: os.Exit(%s)", fset.Position(lit.Pos()), lit.Value)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 || seen < 3 {
		t.Fatalf("checked %d files and %d ExitErrors: the walk missed the code base", files, seen)
	}
}

// TestSignalContext: the first SIGTERM ends the context and is reported,
// and maps to 143 (SIGINT: 130).
func TestSignalContext(t *testing.T) {
	t.Parallel()
	ctx, received, stop := SignalContext(context.Background())
	defer stop()
	if received() != nil || ctx.Err() != nil {
		t.Fatal("ended before any signal")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	if received() == nil {
		// received is set before the context ends.
		t.Fatal("context ended without the signal recorded")
	}
	if e, ok := interrupt.Cause(ctx); !ok || e.Signal != syscall.SIGTERM {
		t.Fatalf("cause %v, want the interrupt by SIGTERM", context.Cause(ctx))
	}
	if got := SignalStatus(received()); got != ExitSIGTERM {
		t.Fatalf("status %d", got)
	}
	if SignalStatus(os.Interrupt) != ExitSIGINT {
		t.Fatal("SIGINT")
	}
}
