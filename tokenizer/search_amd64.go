//go:build !purego

package tokenizer

import "golang.org/x/sys/cpu"

// useSearchKernel selects the AVX2/FMA assembly search; it is decided once, from the CPU.
var useSearchKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// nearestKernel scores blocks x searchBlock packed codes against x[0:dim] and leaves, for each of
// the four lanes, its smallest distance in lanes[l] and that code's index in lanes[4+l]
// (search_amd64.s).
//
//go:noescape
func nearestKernel(x *float64, dim int, packed *float64, norms *float64, blocks int, lanes *[8]float64)

// nearestKernel32 is nearestKernel in float32 over blocks of searchBlock32 codes, x converted on
// the fly; for each of the eight lanes it leaves the smallest distance in lanes[l], that code's
// index in lanes[8+l] and the lane's second smallest distance in lanes[16+l].
//
//go:noescape
func nearestKernel32(x *float64, dim int, packed *float32, norms *float32, blocks int, lanes *[24]float32)

// nearestKernel32Pair is nearestKernel32 for the patches x and y at once, each code register
// loaded once for both: lanes[0:24] are x's lanes, lanes[24:48] y's, and lanes[48:56] must hold
// 0..7 (the running code indices); the caller sets the distances to +Inf and the codes to 0.
//
//go:noescape
func nearestKernel32Pair(x, y *float64, dim int, packed *float32, norms *float32, blocks int, lanes *[56]float32)
