package nethttp

import "sync"

// copyBufSize is ReverseProxy's own default copy buffer size.
const copyBufSize = 32 * 1024

// bufferPool recycles ReverseProxy copy buffers. It pools array pointers rather than
// slices: converting the slice back to *[copyBufSize]byte in Put is free, whereas
// putting a slice (or a pointer to the parameter) allocates on every request.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v := b.p.Get(); v != nil {
		return v.(*[copyBufSize]byte)[:]
	}
	return new([copyBufSize]byte)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) < copyBufSize {
		return // not one of ours
	}
	b.p.Put((*[copyBufSize]byte)(buf[:copyBufSize]))
}
