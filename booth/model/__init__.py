"""What turns published weights into the IR the booth runs: :mod:`.weights` (fetch and
verify the files), :mod:`.graph` (rewrites of the float network), :mod:`.quantize`
(INT8 with NNCF), :mod:`.arm_int8` (the arm64 recipe), :mod:`.build` (``booth weights``)
and :mod:`.style_build` (``booth styles``)."""
