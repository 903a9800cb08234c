//go:build !amd64 || purego

package tokenizer

// Without the amd64 kernel every search runs nearestGo.
const useSearchKernel = false

func nearestKernel(x *float64, dim int, packed *float64, norms *float64, blocks int, lanes *[8]float64) {
	panic("tokenizer: no search kernel on this platform")
}

func nearestKernel32(x *float64, dim int, packed *float32, norms *float32, blocks int, lanes *[24]float32) {
	panic("tokenizer: no search kernel on this platform")
}

func nearestKernel32Pair(x, y *float64, dim int, packed *float32, norms *float32, blocks int, lanes *[56]float32) {
	panic("tokenizer: no search kernel on this platform")
}
