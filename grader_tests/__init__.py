"""Hidden tests for the backpropagation course (instructor only; never released to students).

Each notebook's hidden test cells call one module here, e.g. ``nb03.check_mul_layer(MulLayer)``.
"""
