package netns

import (
	"fmt"
	"syscall"
)

// Code is a library code of the C ABI (NETNS_ERR_* in netns.h). A Code is an
// error, so errors.Is(err, netns.ErrIPAMDuplicate) matches any *Error that
// carries it.
type Code int32

// The library codes, as numbered in include/netns.h.
const (
	ErrNullPointer     Code = 10001
	ErrInvalidUTF8     Code = 10002
	ErrPanic           Code = 10003
	ErrInvalidArgument Code = 10004
	ErrIPAMExhausted   Code = 10010
	ErrIPAMUnavailable Code = 10011
	ErrIPAMDuplicate   Code = 10012
	ErrIPAMConfig      Code = 10013
	ErrInternal        Code = 10099
)

func (c Code) Error() string {
	switch c {
	case ErrNullPointer:
		return "netns: NULL pointer"
	case ErrInvalidUTF8:
		return "netns: invalid UTF-8"
	case ErrPanic:
		return "netns: internal error (panic)"
	case ErrInvalidArgument:
		return "netns: invalid argument"
	case ErrIPAMExhausted:
		return "netns: IPAM: no free address"
	case ErrIPAMUnavailable:
		return "netns: IPAM: requested address unavailable"
	case ErrIPAMDuplicate:
		return "netns: IPAM: duplicate allocation"
	case ErrIPAMConfig:
		return "netns: IPAM: invalid configuration"
	case ErrInternal:
		return "netns: internal error"
	}
	return fmt.Sprintf("netns: code %d", int32(c))
}

// Error is a failure reported by the library: the code the C function
// returned and the library's message (which includes the kernel's
// extended-ack text when the kernel sent one).
//
// For an errno code (1..4095) Unwrap returns the syscall.Errno, so
// errors.Is(err, syscall.EEXIST) and errors.Is(err, fs.ErrExist) work; for a
// library code errors.Is(err, netns.ErrIPAMDuplicate) does.
type Error struct {
	code    int32
	message string
}

// Code is the value the C function returned: an errno (1..4095) or a library
// code (10000 and up).
func (e *Error) Code() int32 { return e.code }

// Message is the library's message, as netns_error_message returned it.
func (e *Error) Message() string { return e.message }

func (e *Error) Error() string { return e.message }

// Errno is the error's errno, or 0 for a library code.
func (e *Error) Errno() syscall.Errno {
	if e.code > 0 && e.code < 4096 {
		return syscall.Errno(e.code)
	}
	return 0
}

// Unwrap returns the syscall.Errno of an errno code, nil otherwise.
func (e *Error) Unwrap() error {
	if errno := e.Errno(); errno != 0 {
		return errno
	}
	return nil
}

// Is matches a library Code.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && int32(c) == e.code
}
