package minimise

import (
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/gatehouse-gw/gatehouse/internal/public"
)

// copyCSV minimises a CSV payload with a header row: the header names the
// fields; columns outside the allowlist are stripped (or refused, which is
// decided from the header alone, before any record is read).
func copyCSV(dst io.Writer, lim *recordLimiter, p *Policy, r *report) error {
	cr := csv.NewReader(lim)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return csvErr(err, "the CSV payload has no header row")
	}
	header = slices.Clone(header) // the reader reuses its record slice
	lim.next()
	// Field names: the header's cells, trimmed, without a byte-order mark.
	fields := make([]string, len(header))
	for i, h := range header {
		fields[i] = strings.TrimSpace(h)
	}
	if len(fields) > 0 {
		fields[0] = strings.TrimPrefix(fields[0], "\ufeff")
	}
	seen := names{}
	for _, name := range fields {
		if err := seen.add(name); err != nil {
			return err
		}
	}
	var (
		keep   []int
		pseudo = make([]bool, len(header))
		names  []string
		extra  []string
	)
	for i, name := range fields {
		k, ps := p.keep(name)
		if !k {
			extra = append(extra, name)
			r.stripped[name] = true
			continue
		}
		keep = append(keep, i)
		pseudo[i] = ps
		names = append(names, header[i])
	}
	if len(extra) > 0 && p.OnExtra == Refuse {
		return &RefusedError{Fields: extra}
	}
	cw := csv.NewWriter(dst)
	if err := cw.Write(names); err != nil {
		return err
	}
	subjectCol := slices.IndexFunc(fields, p.isSubject)
	out := make([]string, len(keep))
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return csvErr(err, "")
		}
		lim.next()
		r.Records++
		if subjectCol >= 0 && subjectCol < len(rec) && rec[subjectCol] != "" {
			err = p.subjectOf(r.Records, rec[subjectCol], true)
		} else {
			err = p.subjectOf(r.Records, "", false)
		}
		if err != nil {
			return err
		}
		for j, i := range keep {
			v := rec[i]
			if pseudo[i] && v != "" {
				r.pseudonymised[fields[i]] = true
				v = Pseudonym(p.Key, v)
			}
			out[j] = v
		}
		if err := cw.Write(out); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvErr(err error, msg string) error {
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		return public.Errorf(ErrFormat, "CSV %s", pe.Error())
	case errors.Is(err, errRecordTooLarge):
		return err
	case errors.Is(err, io.EOF) && msg != "":
		return public.Errorf(ErrFormat, "%s", msg)
	}
	return err
}
