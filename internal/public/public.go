// Package public marks error messages written for the people who call the
// gateway. A domain error made with Errorf carries its own client-safe
// message; the edge shows that message and nothing else of the chain, so
// the text of a wrapped cause (a driver error, a file name) never reaches a
// client.
package public

import (
	"errors"
	"fmt"
)

// Error is a domain error with a message safe to show to a client: the
// kind's own text (a sentinel such as agreements.ErrNotFound) and what the
// domain says about this case. It must never be given secrets, subject
// identifiers or the text of another error.
type Error struct {
	kind error
	msg  string
}

// Errorf returns an error of kind (errors.Is(err, kind) holds) whose public
// message is kind's text followed by the formatted detail. The arguments
// must be public values (ids, states, sizes), never errors.
func Errorf(kind error, format string, args ...any) error {
	return &Error{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.msg == "" {
		return e.kind.Error()
	}
	return e.kind.Error() + ": " + e.msg
}

func (e *Error) Unwrap() error { return e.kind }

// Public is the message a client may read.
func (e *Error) Public() string { return e.Error() }

// Message returns the public message of the first Error in err's chain, or
// "" when the chain holds none: then nothing of it is shown.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Public()
	}
	return ""
}
