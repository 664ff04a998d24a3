/*
 * coro_switch.S -- the context switch under src/coro.c.
 *
 *	void coro_switch(void **save_sp, void *new_sp);
 *
 * Pushes the callee-saved state of the running context onto its own
 * stack, stores the stack pointer in *save_sp, loads new_sp and pops the
 * other context's state from there, then returns -- into the other
 * context, at the point where it last called coro_switch.  Everything a
 * context needs is on its stack; the only thing kept outside is the one
 * stack pointer.
 *
 * Only callee-saved state is saved: the caller of coro_switch is compiled
 * C code that already assumes every caller-saved register is clobbered by
 * a call.  Unlike glibc's swapcontext there is no sigprocmask system call:
 * all coroutines of a worker share one signal mask.
 *
 * A new coroutine's stack is prepared by coro.c so that the first switch
 * into it "returns" into coro_boot with the coroutine in one callee-saved
 * register and its C entry point in another.  coro_boot calls the entry,
 * which never returns (a finished coroutine switches away for good); the
 * trap after the call catches a broken invariant.
 *
 * Frame left on a suspended context's stack, lowest address first (coro.c
 * builds the same layout for a new coroutine; keep the two in step):
 *
 *   x86_64   MXCSR (4 bytes), x87 control word (2 bytes, 2 spare),
 *            r15, r14, r13, r12, rbx, rbp, return address    =  64 bytes
 *   aarch64  x19..x28, x29 (fp), x30 (lr), d8..d15           = 160 bytes
 *
 * Both keep the stack 16-byte aligned at every call, as the ABIs require.
 * The CFI only tracks the pushes: the frame layout is the same on either
 * side of the stack pointer swap, so the same offsets hold throughout.
 *
 * The symbols are hidden: they are an internal detail of coro.c, and a
 * hidden symbol is called directly, never through the PLT.
 *
 * The architecture test must match CORO_ASM_SWITCH in coro.c.  On other
 * architectures (or with -DCORO_UCONTEXT) this file assembles to nothing
 * and coro.c falls back to makecontext/swapcontext.
 */

#if (defined(__x86_64__) && !defined(__ILP32__) || defined(__aarch64__)) && \
    defined(__ELF__) && !defined(CORO_UCONTEXT)

	.text

#if defined(__x86_64__)

	.globl	coro_switch
	.hidden	coro_switch
	.type	coro_switch, @function
	.p2align 4
coro_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	/* The control bits of MXCSR and the x87 control word are
	 * callee-saved in the System V ABI. */
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)

	movq	%rsp, (%rdi)
	movq	%rsi, %rsp

	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	popq	%r14
	.cfi_adjust_cfa_offset -8
	popq	%r13
	.cfi_adjust_cfa_offset -8
	popq	%r12
	.cfi_adjust_cfa_offset -8
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	coro_switch, .-coro_switch

/* Entered by the first switch's ret: r12 = struct coro *, r13 = entry. */
	.globl	coro_boot
	.hidden	coro_boot
	.type	coro_boot, @function
	.p2align 4
coro_boot:
	.cfi_startproc
	/* No caller: backtraces (gdb, ASan) stop here. */
	.cfi_undefined rip
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.cfi_endproc
	.size	coro_boot, .-coro_boot

#else /* __aarch64__ */

	.globl	coro_switch
	.hidden	coro_switch
	.type	coro_switch, %function
	.p2align 4
coro_switch:
	.cfi_startproc
	sub	sp, sp, #160
	.cfi_adjust_cfa_offset 160
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	/* Only the low halves of v8..v15 are callee-saved (AAPCS64). */
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]

	mov	x2, sp
	str	x2, [x0]
	mov	sp, x1

	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #160
	.cfi_adjust_cfa_offset -160
	ret
	.cfi_endproc
	.size	coro_switch, .-coro_switch

/* Entered by the first switch's ret: x19 = struct coro *, x20 = entry. */
	.globl	coro_boot
	.hidden	coro_boot
	.type	coro_boot, %function
	.p2align 4
coro_boot:
	.cfi_startproc
	.cfi_undefined x30
	mov	x0, x19
	blr	x20
	brk	#0
	.cfi_endproc
	.size	coro_boot, .-coro_boot

#endif
#endif

/* This object never needs an executable stack. */
	.section .note.GNU-stack,"",%progbits
