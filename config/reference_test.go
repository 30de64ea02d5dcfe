package config

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var updateReference = flag.Bool("update", false, "rewrite docs/configuration.md")

// docs/configuration.md is generated from the Config types, their comments
// and their defaults; this test fails when it is out of date. Regenerate
// with: go test ./config -run TestReference -update
func TestReference(t *testing.T) {
	got := reference(t)
	const path = "../docs/configuration.md"
	if *updateReference {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got, "docs/configuration.md is out of date: go test ./config -run TestReference -update")
}

type docField struct {
	name, yaml, doc string
	expr            ast.Expr
}

// structDocs reads config.go's struct types: each field's yaml key and doc
// comment (a field without one shares the comment of the one before it).
func structDocs(t *testing.T) map[string][]docField {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	require.NoError(t, err)
	out := map[string][]docField{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range gd.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, fld := range st.Fields.List {
				doc := strings.Join(strings.Fields(fld.Doc.Text()), " ")
				if len(fld.Names) == 1 {
					doc = tidy(fld.Names[0].Name, doc)
				}
				tag := reflect.StructTag(strings.Trim(fld.Tag.Value, "`"))
				key, _, _ := strings.Cut(tag.Get("yaml"), ",")
				for _, n := range fld.Names {
					out[ts.Name.Name] = append(out[ts.Name.Name], docField{name: n.Name, yaml: key, doc: doc, expr: fld.Type})
				}
			}
		}
	}
	return out
}

// tidy turns "Listen is the address…" into "The address…".
func tidy(name, doc string) string {
	rest, ok := strings.CutPrefix(doc, name+" ")
	if !ok {
		return doc
	}
	for _, verb := range []string{"is ", "are "} {
		if r, ok := strings.CutPrefix(rest, verb); ok {
			rest = r
			break
		}
	}
	if rest == "" {
		return doc
	}
	return strings.ToUpper(rest[:1]) + rest[1:]
}

func reference(t *testing.T) string {
	docs := structDocs(t)
	var defaults Config
	defaults.Defaults()
	var b strings.Builder
	b.WriteString(`# Configuration reference

<!-- Generated from config/config.go by: go test ./config -run TestReference -update -->

The gateway reads one YAML file (` + "`gatehouse serve --config FILE`" + `, or
` + "`GATEHOUSE_CONFIG`" + `). Unknown keys are errors that name their path and
line. Every setting can be overridden by an environment variable: the key path
in upper case with ` + "`.`" + ` as ` + "`_`" + `, after ` + "`GATEHOUSE_`" + `; lists take
comma-separated values. Relative file paths are relative to the file's folder.
Durations are Go durations (` + "`90s`, `5m`, `720h`" + `); sizes take units
(` + "`512KiB`, `2GiB`" + `). Validation reports every problem at once, each with
its key path. ` + "`gatehouse config check --config FILE [--connect]`" + ` checks a
file, its keys and certificates, and what it points at.

`)
	var walk func(typ string, prefix string, v reflect.Value)
	walk = func(typ, prefix string, v reflect.Value) {
		var rows []string
		var nested []func()
		for _, f := range docs[typ] {
			path := f.yaml
			if prefix != "" {
				path = prefix + "." + f.yaml
			}
			fv := v.FieldByName(f.name)
			switch e := f.expr.(type) {
			case *ast.Ident:
				if _, ok := docs[e.Name]; ok {
					nested = append(nested, func() {
						fmt.Fprintf(&b, "## `%s`\n\n%s\n\n", path, f.doc)
						walk(e.Name, path, fv)
					})
					continue
				}
			case *ast.MapType:
				if id, ok := e.Value.(*ast.Ident); ok {
					if _, ok := docs[id.Name]; ok {
						rows = append(rows, row(path+".<id>", f.doc+" Each entry has the keys of "+"`"+prefix+".default`"+".", "", "—", false))
						continue
					}
				}
			}
			require.NotEmpty(t, f.doc, "%s needs a doc comment in config.go: it is the reference's text", path)
			secret := strings.Contains(fieldTag(v.Type(), f.name), `secret:"true"`)
			rows = append(rows, row(path, f.doc, defaultOf(fv), "`"+EnvName(path)+"`", secret))
		}
		if len(rows) > 0 {
			b.WriteString("| key | default | environment | meaning |\n|---|---|---|---|\n")
			for _, r := range rows {
				b.WriteString(r)
			}
			b.WriteString("\n")
		}
		for _, n := range nested {
			n()
		}
	}
	b.WriteString("## top level\n\n")
	walk("Config", "", reflect.ValueOf(defaults))
	return b.String()
}

func fieldTag(t reflect.Type, name string) string {
	f, _ := t.FieldByName(name)
	return string(f.Tag)
}

func row(path, doc, def, env string, secret bool) string {
	if secret {
		doc += " Secret: never logged or printed."
	}
	if def != "" {
		def = "`" + def + "`"
	}
	return fmt.Sprintf("| `%s` | %s | %s | %s |\n", path, def, env, strings.ReplaceAll(doc, "|", "\\|"))
}

func defaultOf(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	switch x := v.Interface().(type) {
	case time.Duration:
		if x == 0 {
			return ""
		}
		return x.String()
	case ByteSize:
		if x == 0 {
			return ""
		}
		s, _ := x.MarshalYAML()
		return fmt.Sprint(s)
	case *bool:
		if x == nil {
			return ""
		}
		return fmt.Sprint(*x)
	case bool:
		if !x {
			return ""
		}
		return "true"
	case []int:
		if len(x) == 0 {
			return ""
		}
		s := make([]string, len(x))
		for i, n := range x {
			s[i] = fmt.Sprint(n)
		}
		return strings.Join(s, ",")
	case []string:
		return strings.Join(x, ",")
	}
	if v.IsZero() {
		return ""
	}
	return fmt.Sprint(v.Interface())
}
