//go:build !purego

#include "textflag.h"

// Constants: +Inf (the starting best distance), -2 (d = |c|^2 - 2 c.x as one FMA), 4 (the code
// index step from one register of four lanes to the next) and the lane offsets 0..3.
DATA searchPosInf<>+0(SB)/8, $0x7ff0000000000000
GLOBL searchPosInf<>(SB), RODATA|NOPTR, $8
DATA searchMinusTwo<>+0(SB)/8, $-2.0
GLOBL searchMinusTwo<>(SB), RODATA|NOPTR, $8
DATA searchFour<>+0(SB)/8, $4.0
GLOBL searchFour<>(SB), RODATA|NOPTR, $8
DATA searchIota<>+0(SB)/8, $0.0
DATA searchIota<>+8(SB)/8, $1.0
DATA searchIota<>+16(SB)/8, $2.0
DATA searchIota<>+24(SB)/8, $3.0
GLOBL searchIota<>(SB), RODATA|NOPTR, $32

// func nearestKernel(x *float64, dim int, packed *float64, norms *float64, blocks int, lanes *[8]float64)
//
// For each block of 32 codes (packed dimension-major: for every d, the 32 codes' values), Y0-Y7
// accumulate the 32 dot products: x[d] is broadcast once into Y8 and multiplied into eight
// registers of four codes — eight independent FMA chains, enough to hide the FMA latency. Each
// code's sum is one FMA chain in dimension order, exactly as the Go reference nearestGo computes it.
// Then d = FMA(acc, -2, |c|^2) per code, and each lane keeps its smallest d (strict <, so the
// first such code) and that code's index (Y9: distances, Y10: indices as float64, exact).
TEXT ·nearestKernel(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ dim+8(FP), CX
	MOVQ packed+16(FP), DI
	MOVQ norms+24(FP), R8
	MOVQ blocks+32(FP), R9
	MOVQ lanes+40(FP), R10

	VBROADCASTSD searchPosInf<>(SB), Y9
	VXORPD       Y10, Y10, Y10
	VMOVUPD      searchIota<>(SB), Y11
	VBROADCASTSD searchFour<>(SB), Y12
	VBROADCASTSD searchMinusTwo<>(SB), Y13

block:
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	MOVQ   SI, AX
	MOVQ   CX, DX

dims:
	VBROADCASTSD (AX), Y8
	VFMADD231PD  0(DI), Y8, Y0
	VFMADD231PD  32(DI), Y8, Y1
	VFMADD231PD  64(DI), Y8, Y2
	VFMADD231PD  96(DI), Y8, Y3
	VFMADD231PD  128(DI), Y8, Y4
	VFMADD231PD  160(DI), Y8, Y5
	VFMADD231PD  192(DI), Y8, Y6
	VFMADD231PD  224(DI), Y8, Y7
	ADDQ         $8, AX
	ADDQ         $256, DI
	DECQ         DX
	JNZ          dims

// ARGMIN folds one register of four codes' dot products into the per-lane minima: Y14 = |c|^2 -
// 2 acc, Y15 = Y14 < best (ordered, quiet: a NaN never wins), then best and index take Y14 and
// the current indices where Y15 is set, and the indices move on by four.
#define ARGMIN(acc, off) \
	VMOVUPD     off(R8), Y14            \
	VFMADD231PD Y13, acc, Y14           \
	VCMPPD      $0x11, Y9, Y14, Y15     \
	VBLENDVPD   Y15, Y14, Y9, Y9        \
	VBLENDVPD   Y15, Y11, Y10, Y10      \
	VADDPD      Y12, Y11, Y11

	ARGMIN(Y0, 0)
	ARGMIN(Y1, 32)
	ARGMIN(Y2, 64)
	ARGMIN(Y3, 96)
	ARGMIN(Y4, 128)
	ARGMIN(Y5, 160)
	ARGMIN(Y6, 192)
	ARGMIN(Y7, 224)
	ADDQ $256, R8
	DECQ R9
	JNZ  block

	VMOVUPD Y9, 0(R10)
	VMOVUPD Y10, 32(R10)
	VZEROUPPER
	RET

// float32 constants, as full registers for memory operands.
DATA searchPosInf32<>+0(SB)/4, $0x7f800000
GLOBL searchPosInf32<>(SB), RODATA|NOPTR, $4
DATA searchMinusTwo32<>+0(SB)/4, $-2.0
DATA searchMinusTwo32<>+4(SB)/4, $-2.0
DATA searchMinusTwo32<>+8(SB)/4, $-2.0
DATA searchMinusTwo32<>+12(SB)/4, $-2.0
DATA searchMinusTwo32<>+16(SB)/4, $-2.0
DATA searchMinusTwo32<>+20(SB)/4, $-2.0
DATA searchMinusTwo32<>+24(SB)/4, $-2.0
DATA searchMinusTwo32<>+28(SB)/4, $-2.0
GLOBL searchMinusTwo32<>(SB), RODATA|NOPTR, $32
DATA searchEight32<>+0(SB)/4, $8.0
DATA searchEight32<>+4(SB)/4, $8.0
DATA searchEight32<>+8(SB)/4, $8.0
DATA searchEight32<>+12(SB)/4, $8.0
DATA searchEight32<>+16(SB)/4, $8.0
DATA searchEight32<>+20(SB)/4, $8.0
DATA searchEight32<>+24(SB)/4, $8.0
DATA searchEight32<>+28(SB)/4, $8.0
GLOBL searchEight32<>(SB), RODATA|NOPTR, $32
DATA searchIota32<>+0(SB)/4, $0.0
DATA searchIota32<>+4(SB)/4, $1.0
DATA searchIota32<>+8(SB)/4, $2.0
DATA searchIota32<>+12(SB)/4, $3.0
DATA searchIota32<>+16(SB)/4, $4.0
DATA searchIota32<>+20(SB)/4, $5.0
DATA searchIota32<>+24(SB)/4, $6.0
DATA searchIota32<>+28(SB)/4, $7.0
GLOBL searchIota32<>(SB), RODATA|NOPTR, $32

// func nearestKernel32(x *float64, dim int, packed *float32, norms *float32, blocks int, lanes *[24]float32)
//
// nearestKernel in float32 over blocks of 64 codes (eight registers of eight lanes). x[d] is
// converted from float64 as it is broadcast; the conversion merges into X15, which the dimension
// loop never writes, so no iteration waits on the one before. Per lane it keeps the smallest
// distance (Y9), its code (Y10) and the second smallest distance (Y13), from which the caller
// tells whether the float32 answer is certain.
TEXT ·nearestKernel32(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ dim+8(FP), CX
	MOVQ packed+16(FP), DI
	MOVQ norms+24(FP), R8
	MOVQ blocks+32(FP), R9
	MOVQ lanes+40(FP), R10

	VBROADCASTSS searchPosInf32<>(SB), Y9
	VMOVAPS      Y9, Y13
	VXORPS       Y10, Y10, Y10
	VMOVUPS      searchIota32<>(SB), Y11
	VXORPS       Y15, Y15, Y15

block32:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   SI, AX
	MOVQ   CX, DX

dims32:
	VCVTSD2SS    (AX), X15, X8
	VBROADCASTSS X8, Y8
	VFMADD231PS  0(DI), Y8, Y0
	VFMADD231PS  32(DI), Y8, Y1
	VFMADD231PS  64(DI), Y8, Y2
	VFMADD231PS  96(DI), Y8, Y3
	VFMADD231PS  128(DI), Y8, Y4
	VFMADD231PS  160(DI), Y8, Y5
	VFMADD231PS  192(DI), Y8, Y6
	VFMADD231PS  224(DI), Y8, Y7
	ADDQ         $8, AX
	ADDQ         $256, DI
	DECQ         DX
	JNZ          dims32

// ARGMIN32: Y14 = |c|^2 - 2 acc; second = min(second, max(best, Y14)) (before best moves, so a
// displaced best becomes the second); then best and its code take Y14 where Y14 < best. The
// padding's +Inf never wins, and a tie leaves second == best, which the caller treats as uncertain.
// Y15 is put back to zero for the conversions.
#define ARGMIN32(acc, off) \
	VMOVUPS     off(R8), Y14                       \
	VFMADD231PS searchMinusTwo32<>(SB), acc, Y14   \
	VMAXPS      Y9, Y14, Y15                       \
	VMINPS      Y15, Y13, Y13                      \
	VCMPPS      $0x11, Y9, Y14, Y15                \
	VBLENDVPS   Y15, Y14, Y9, Y9                   \
	VBLENDVPS   Y15, Y11, Y10, Y10                 \
	VADDPS      searchEight32<>(SB), Y11, Y11

	ARGMIN32(Y0, 0)
	ARGMIN32(Y1, 32)
	ARGMIN32(Y2, 64)
	ARGMIN32(Y3, 96)
	ARGMIN32(Y4, 128)
	ARGMIN32(Y5, 160)
	ARGMIN32(Y6, 192)
	ARGMIN32(Y7, 224)
	VXORPS Y15, Y15, Y15
	ADDQ   $256, R8
	DECQ   R9
	JNZ    block32

	VMOVUPS Y9, 0(R10)
	VMOVUPS Y10, 32(R10)
	VMOVUPS Y13, 64(R10)
	VZEROUPPER
	RET

// func nearestKernel32Pair(x, y *float64, dim int, packed *float32, norms *float32, blocks int, lanes *[56]float32)
//
// Two patches share each code load: every 64-code block is taken as two halves of 32 codes (four
// registers at byte offset 0 or 128 of each 256-byte row), Y0-Y3 accumulate x's dot products and
// Y4-Y7 y's. Per lane, codes are visited in the order nearestKernel32 visits them and every
// distance is computed the same way, so each patch's lanes come out as nearestKernel32's. The
// registers do not hold both patches' running minima, so they live in lanes between halves.
TEXT ·nearestKernel32Pair(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), BX
	MOVQ dim+16(FP), CX
	MOVQ packed+24(FP), R12
	MOVQ norms+32(FP), R8
	MOVQ blocks+40(FP), R9
	MOVQ lanes+48(FP), R10

	VXORPS Y15, Y15, Y15
	SHLQ   $1, R9        // halves to do
	MOVQ   CX, R11
	SHLQ   $8, R11       // bytes per 64-code block: dim rows of 256
	XORQ   R13, R13      // byte offset of the current half in a row: 0 or 128

half:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   SI, AX
	MOVQ   BX, R14
	MOVQ   CX, DX
	LEAQ   (R12)(R13*1), DI

pairdims:
	VCVTSD2SS    (AX), X15, X8
	VBROADCASTSS X8, Y8
	VCVTSD2SS    (R14), X15, X9
	VBROADCASTSS X9, Y9
	VMOVUPS      0(DI), Y10
	VFMADD231PS  Y10, Y8, Y0
	VFMADD231PS  Y10, Y9, Y4
	VMOVUPS      32(DI), Y11
	VFMADD231PS  Y11, Y8, Y1
	VFMADD231PS  Y11, Y9, Y5
	VMOVUPS      64(DI), Y12
	VFMADD231PS  Y12, Y8, Y2
	VFMADD231PS  Y12, Y9, Y6
	VMOVUPS      96(DI), Y13
	VFMADD231PS  Y13, Y8, Y3
	VFMADD231PS  Y13, Y9, Y7
	ADDQ         $8, AX
	ADDQ         $8, R14
	ADDQ         $256, DI
	DECQ         DX
	JNZ          pairdims

// ARGMINP is ARGMIN32 with the minima in Y8 (best), Y9 (code), Y10 (second) and indices in Y11.
#define ARGMINP(acc, off) \
	VMOVUPS     off(R8), Y12                       \
	VFMADD231PS searchMinusTwo32<>(SB), acc, Y12   \
	VMAXPS      Y8, Y12, Y14                       \
	VMINPS      Y14, Y10, Y10                      \
	VCMPPS      $0x11, Y8, Y12, Y13                \
	VBLENDVPS   Y13, Y12, Y8, Y8                   \
	VBLENDVPS   Y13, Y11, Y9, Y9                   \
	VADDPS      searchEight32<>(SB), Y11, Y11

	VMOVUPS 192(R10), Y11
	VMOVUPS 0(R10), Y8
	VMOVUPS 32(R10), Y9
	VMOVUPS 64(R10), Y10
	ARGMINP(Y0, 0)
	ARGMINP(Y1, 32)
	ARGMINP(Y2, 64)
	ARGMINP(Y3, 96)
	VMOVUPS Y8, 0(R10)
	VMOVUPS Y9, 32(R10)
	VMOVUPS Y10, 64(R10)

	VMOVUPS 192(R10), Y11
	VMOVUPS 96(R10), Y8
	VMOVUPS 128(R10), Y9
	VMOVUPS 160(R10), Y10
	ARGMINP(Y4, 0)
	ARGMINP(Y5, 32)
	ARGMINP(Y6, 64)
	ARGMINP(Y7, 96)
	VMOVUPS Y8, 96(R10)
	VMOVUPS Y9, 128(R10)
	VMOVUPS Y10, 160(R10)
	VMOVUPS Y11, 192(R10)

	ADDQ $128, R8
	XORQ $128, R13
	JNZ  samebk       // the second half of this block is next
	ADDQ R11, R12     // both halves done: the next block
samebk:
	DECQ R9
	JNZ  half

	VZEROUPPER
	RET
