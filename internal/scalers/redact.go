package scalers

import (
	"encoding/base64"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// Redacted replaces a credential in a message.
const Redacted = "[redacted]"

// minRedactLen is the shortest credential replaced inside a message; a shorter one that shows
// up withholds the whole message, since replacing "ab" everywhere would reveal it.
const minRedactLen = 4

// withheldMessage replaces a message that a short credential appears in.
const withheldMessage = "the error message was withheld because it may contain a credential"

// Redact replaces every sensitive value in msg (and its URL-escaped and base64 forms, as they
// appear in URLs and basic-auth headers) with Redacted. It is applied to every trigger error
// before it reaches status, Events or logs.
func Redact(msg string, sensitive []string) string {
	if msg == "" || len(sensitive) == 0 {
		return msg
	}
	var forms []string
	for _, s := range sensitive {
		if s == "" {
			continue
		}
		if len(s) < minRedactLen {
			if containsToken(msg, s) {
				return withheldMessage
			}
			continue
		}
		forms = append(forms, s, url.QueryEscape(s), url.PathEscape(s), base64.StdEncoding.EncodeToString([]byte(s)))
	}
	// Basic auth sends base64("user:password").
	for _, a := range sensitive {
		for _, b := range sensitive {
			if a != "" && b != "" {
				forms = append(forms, base64.StdEncoding.EncodeToString([]byte(a+":"+b)))
			}
		}
	}
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	for _, f := range forms {
		if len(f) >= minRedactLen {
			msg = strings.ReplaceAll(msg, f, Redacted)
		}
	}
	return msg
}

// containsToken: s occurs in msg not surrounded by letters or digits.
func containsToken(msg, s string) bool {
	for i := 0; ; {
		j := strings.Index(msg[i:], s)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(s)
		if (start == 0 || !isAlnum(msg[start-1])) && (end == len(msg) || !isAlnum(msg[end])) {
			return true
		}
		i = start + 1
	}
}

func isAlnum(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// redactedError is an error whose message has been redacted. errors.Is still sees the
// original chain (so IsSpecError works), but there is no Unwrap: nothing can reach an inner
// error whose message holds a credential.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is matches what the original error matches.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

func redactError(err error, sensitive []string) error {
	if err == nil {
		return nil
	}
	var already *redactedError
	if errors.As(err, &already) && len(sensitive) == 0 {
		return err
	}
	return &redactedError{msg: Redact(err.Error(), sensitive), err: err}
}
