package store

import (
	"context"
	"fmt"
	"strings"
)

// queryAll runs a query and reads every row with scan.
func queryAll[T any](ctx context.Context, d *DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := d.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// inList appends vals to args and returns them with the placeholders of an
// IN (…) list naming them.
func inList[V ~string](args []any, vals []V) ([]any, string) {
	marks := make([]string, len(vals))
	for i, v := range vals {
		args = append(args, string(v))
		marks[i] = fmt.Sprintf("$%d", len(args))
	}
	return args, "(" + strings.Join(marks, ", ") + ")"
}
