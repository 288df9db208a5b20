package detect

// Word-at-a-time byte tests (SWAR) for the loops that look at every byte
// of a text: each tests 8 bytes read by load64 with a few integer
// operations, so the common case (plain printable ASCII) skips 8 bytes per
// step and only the 8-byte chunks holding something special go byte by
// byte. Every mask is exact per byte: no carry crosses from one byte into
// the next.

const (
	swarLow  = 0x0101010101010101
	swarHigh = 0x8080808080808080
	swar7F   = 0x7f7f7f7f7f7f7f7f
)

// swarEq has the top bit of each byte of x that equals c set, and nothing
// else.
func swarEq(x uint64, c byte) uint64 {
	y := x ^ swarLow*uint64(c)
	return ^((y&swar7F + swar7F) | y) & swarHigh
}

// swarBelow has the top bit of each byte of x that is below c (c <= 0x80)
// set, and nothing else.
func swarBelow(x uint64, c byte) uint64 {
	// For a byte b < 0x80, b + (0x80-c) stays below 0x100 and reaches 0x80
	// exactly when b >= c; bytes >= 0x80 are never below c.
	return ^((x&swar7F + swarLow*uint64(0x80-c)) | x) & swarHigh
}

// swarPlain reports whether the 8 bytes of x are printable ASCII or space
// (0x20-0x7e) other than '"' and '\\': bytes that JSON and Go quoting
// write as themselves.
func swarPlain(x uint64) bool {
	// swarBelow(x, 0x20) and swarEq for '"', '\\' and 0x7f, written out so
	// that it inlines into the loops that call it.
	low := x & swar7F
	q, b, d := x^(swarLow*'"'), x^(swarLow*'\\'), x^swar7F
	bad := x | ^(low + swarLow*(0x80-0x20)) |
		^((q&swar7F + swar7F) | q) | ^((b&swar7F + swar7F) | b) | ^((d&swar7F + swar7F) | d)
	return bad&swarHigh == 0
}
