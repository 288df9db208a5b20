package detect

import (
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// Splitting a text into words and sentences for the filler search, and
// hashing each word: ASCII 32 bytes at a time, the rest rune by rune.

// maxFillerWords bounds the words taken from one text.
const maxFillerWords = 20000

// fillerByte classifies a byte for fillerWords: the lowercase of an ASCII
// word byte (letter, digit, apostrophe), fillerSep or fillerStop for other
// ASCII (fillerStop ends a sentence), fillerMulti for the bytes of
// multi-byte runes (and invalid UTF-8), which are decoded as runes.
var fillerByte = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '\'':
			t[c] = byte(c)
		case 'A' <= c && c <= 'Z':
			t[c] = byte(c + 'a' - 'A')
		case c == '.', c == '!', c == '?', c == '\n':
			t[c] = fillerStop
		case c >= utf8.RuneSelf:
			t[c] = fillerMulti
		}
	}
	return t
}()

const (
	fillerSep   = 0
	fillerStop  = 1
	fillerMulti = 0x80
)

type fillerWord struct {
	hash       uint64 // fillerHash of the lowercased word
	start, end int    // byte offsets in the text
}

// Word hashes. Words are compared by hash alone, so a hash depends only on
// the runes of the lowercased word, whichever bytes spelled them. A word
// whose lowercase is ASCII (nearly every word of LLM prose, and also e.g.
// "\u212Aing", whose lowercase is "king") is hashed from its bytes packed 8
// to a chunk, so that the common case needs no per-byte hashing; any other
// word is FNV-1a over its lowercased runes.
const fillerMul = 0x9e3779b97f4a7c15

// fillerChunk folds 8 packed lowercase ASCII bytes (the last chunk of a
// word zero-padded) into h.
func fillerChunk(h, chunk uint64) uint64 {
	return bits.RotateLeft64((h^chunk)*fillerMul, 29)
}

// fillerFinish mixes the length into the folded chunks, enough for the
// 4-gram and sentence hashes built from word hashes.
func fillerFinish(h uint64, n int) uint64 {
	h = (h ^ uint64(n)<<56) * fillerMul
	return h ^ h>>29
}

// fillerASCIIHash hashes the ASCII word s[a:e] (letters, digits,
// apostrophes): its chunks are read 8 bytes at a time and lowercased
// together (setting bit 5 lowercases a letter and leaves digits and the
// apostrophe as they are). Words of up to 16 bytes, nearly all, take no
// branch on their length.
func fillerASCIIHash(s string, a, e int) uint64 {
	const lower = 0x2020202020202020
	n := e - a
	if n <= 16 && a+16 <= len(s) {
		c0 := (load64(s[a:]) | lower) & fillerMask(n)
		c1 := (load64(s[a+8:]) | lower) & fillerMask(n-8)
		h := fillerChunk(0, c0)
		if h1 := fillerChunk(h, c1); n > 8 {
			h = h1
		}
		return fillerFinish(h, n)
	}
	var h uint64
	for ; a+8 <= e; a += 8 {
		h = fillerChunk(h, load64(s[a:])|lower)
	}
	if a < e {
		var chunk uint64
		for i := a; i < e; i++ {
			chunk |= uint64(s[i]|0x20) << (8 * (i - a))
		}
		h = fillerChunk(h, chunk)
	}
	return fillerFinish(h, n)
}

// fillerMask keeps the first n bytes of a chunk (none for n <= 0), from a
// table: a word's length is no pattern a branch predictor can learn.
func fillerMask(n int) uint64 {
	return fillerMasks[min(max(n, 0), 8)]
}

var fillerMasks = [9]uint64{0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff, ^uint64(0)}

// fillerRuneWord hashes the word that starts at s[i] and holds a multi-byte
// rune, and returns it with the word's end.
func fillerRuneWord(s string, i int) (hash uint64, end int) {
	runeHash := uint64(fnvOffset)
	h, chunk, n := uint64(0), uint64(0), 0
	ascii := true // every lowercased rune so far is ASCII
	for i < len(s) {
		r, size := rune(s[i]), 1
		if c := fillerByte[r]; c != fillerMulti {
			if c <= fillerStop {
				break
			}
			r = rune(c)
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				break
			}
			r = unicode.ToLower(r)
		}
		runeHash = (runeHash ^ uint64(r)) * fnvPrime
		if ascii = ascii && r < utf8.RuneSelf; ascii {
			chunk |= uint64(r) << (8 * (n & 7))
			if n++; n&7 == 0 {
				h, chunk = fillerChunk(h, chunk), 0
			}
		}
		i += size
	}
	if !ascii {
		return runeHash, i
	}
	if n&7 != 0 {
		h = fillerChunk(h, chunk)
	}
	return fillerFinish(h, n), i
}

// fillerWords splits s into words (letters, digits, apostrophes) and
// returns them with the word index that ends each sentence. The slices
// are sc's, valid until the next call.
//
// ASCII stretches, all of most texts, go 64 bytes at a time: bit masks of
// the word bytes and sentence stops give every word's bounds without a
// branch per byte. A multi-byte rune and the word around it go rune by rune.
func (sc *fillerScratch) fillerWords(s string) (words []fillerWord, sentenceEnds []int) {
	sc.words, sc.ends = sc.words[:0], sc.ends[:0]
	for i := 0; i < len(s) && len(sc.words) < maxFillerWords; {
		j := i + asciiPrefix(s[i:])
		if j < len(s) {
			for j > i && fillerByte[s[j-1]] > fillerStop {
				j-- // that word may go on with a multi-byte letter
			}
		}
		sc.asciiWords(s, i, j)
		if i = j; i == len(s) || len(sc.words) >= maxFillerWords {
			break
		}
		// One word with a multi-byte rune, or one separator.
		c := fillerByte[s[i]]
		size := 1
		if c == fillerMulti {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				c = fillerSep
			}
		}
		switch c {
		case fillerStop:
			sc.endSentence()
			i++
		case fillerSep:
			i += size
		default:
			h, end := fillerRuneWord(s, i)
			sc.words = append(sc.words, fillerWord{hash: h, start: i, end: end})
			i = end
		}
	}
	sc.endSentence()
	return sc.words, sc.ends
}

func (sc *fillerScratch) endSentence() {
	if n := len(sc.words); n > 0 && (len(sc.ends) == 0 || sc.ends[len(sc.ends)-1] < n) {
		sc.ends = append(sc.ends, n)
	}
}

// fillerClass: bit 31 marks an ASCII word byte, bit 63 a sentence stop,
// so that shifting in 32 bytes' classes gives both masks of a block.
var fillerClass = func() (t [256]uint64) {
	for c, b := range fillerByte {
		switch {
		case b == fillerStop:
			t[c] = 1 << 63
		case b > fillerStop && b != fillerMulti:
			t[c] = 1 << 31
		}
	}
	return t
}()

// asciiWords adds the words and sentence ends of s[from:to], ASCII that
// starts and ends outside a word, until the word cap.
func (sc *fillerScratch) asciiWords(s string, from, to int) {
	pending := -1 // start of a word that goes on into the next block
	for b := from; b < to; b += 32 {
		blk := s[b:min(b+32, to)]
		var m uint64
		if len(blk) == 32 {
			for k := 0; k < 32; k += 4 {
				m = m>>4 | fillerClass[blk[k]]>>3 | fillerClass[blk[k+1]]>>2 | fillerClass[blk[k+2]]>>1 | fillerClass[blk[k+3]]
			}
		} else {
			for k := 0; k < len(blk); k++ {
				m = m>>1 | fillerClass[blk[k]]
			}
			m >>= 32 - len(blk) // a short last block: its bytes to the bottom
		}
		wm, stops := m&(1<<32-1), m>>32
		next := uint64(0) // the byte after the block is a word byte
		if e := b + 32; e < to {
			next = fillerClass[s[e]] >> 31 & 1
		}
		prev := uint64(0)
		if pending >= 0 {
			prev = 1
		}
		starts := wm &^ (wm<<1 | prev)
		ends := wm &^ (wm>>1 | next<<31)
		for ev := ends | stops; ev != 0; ev &= ev - 1 {
			k := bits.TrailingZeros64(ev)
			if stops&(1<<k) != 0 {
				sc.endSentence()
				continue
			}
			a := pending
			if a >= 0 {
				pending = -1
			} else {
				a = b + bits.TrailingZeros64(starts)
				starts &= starts - 1
			}
			e := b + k + 1
			sc.words = append(sc.words, fillerWord{hash: fillerASCIIHash(s, a, e), start: a, end: e})
			if len(sc.words) >= maxFillerWords {
				return
			}
		}
		if starts != 0 {
			pending = b + bits.TrailingZeros64(starts)
		}
	}
}
