"""Names generated code may not use, and the name table every generated identifier comes from.

Generated code is executed and imported, so a name taken from a spec must never be a Python
keyword, shadow a builtin, hide an attribute of `nn.Module`, `keras.Model` or
`keras.layers.Layer` (a block `bfloat` called 16 times would otherwise become the attribute
`bfloat16` and forward would call `Module.bfloat16`), or collide with a name the templates
use.  The core imports no framework, so those names are static sets here, generated from the
installed versions; tests/test_hostile_names.py fails when a new release adds one.
"""

from __future__ import annotations

from collections.abc import Iterable


def _words(text: str) -> frozenset[str]:
    """The names in a whitespace-separated list (kept this way to stay short and sorted)."""
    return frozenset(text.split())


# keyword.kwlist + keyword.softkwlist of Python 3.11, and `type` (soft from 3.12)
KEYWORDS = _words("""
    False None True _ and as assert async await break case class continue def del elif
    else except finally for from global if import in is lambda match nonlocal not or
    pass raise return try type while with yield
    """)

# dir(builtins) of Python 3.11, and the names 3.13 adds
BUILTINS = _words("""
    ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup
    BlockingIOError BrokenPipeError BufferError BytesWarning ChildProcessError
    ConnectionAbortedError ConnectionError ConnectionRefusedError ConnectionResetError
    DeprecationWarning EOFError Ellipsis EncodingWarning EnvironmentError Exception
    ExceptionGroup False FileExistsError FileNotFoundError FloatingPointError
    FutureWarning GeneratorExit IOError ImportError ImportWarning IndentationError
    IndexError InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError
    MemoryError ModuleNotFoundError NameError None NotADirectoryError NotImplemented
    NotImplementedError OSError OverflowError PendingDeprecationWarning PermissionError
    ProcessLookupError PythonFinalizationError RecursionError ReferenceError
    ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration
    SyntaxError SyntaxWarning SystemError SystemExit TabError TimeoutError True
    TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError
    UnicodeTranslateError UnicodeWarning UserWarning ValueError Warning
    ZeroDivisionError _IncompleteInputError __build_class__ __debug__ __doc__ __import__
    __loader__ __name__ __package__ __spec__ abs aiter all anext any ascii bin bool
    breakpoint bytearray bytes callable chr classmethod compile complex copyright
    credits delattr dict dir divmod enumerate eval exec exit filter float format
    frozenset getattr globals hasattr hash help hex id input int isinstance issubclass
    iter len license list locals map max memoryview min next object oct open ord pow
    print property quit range repr reversed round set setattr slice sorted staticmethod
    str sum super tuple type vars zip
    """)

# dir(torch.nn.Module) + dir(torch.nn.Module()), torch 2.13.0
TORCH_MODULE_ATTRIBUTES = _words("""
    T_destination __annotations__ __call__ __class__ __delattr__ __dict__ __dir__
    __doc__ __eq__ __format__ __ge__ __getattr__ __getattribute__ __getstate__ __gt__
    __hash__ __init__ __init_subclass__ __le__ __lt__ __module__ __ne__ __new__
    __reduce__ __reduce_ex__ __repr__ __setattr__ __setstate__ __sizeof__ __str__
    __subclasshook__ __weakref__ _apply _backward_hooks _backward_pre_hooks _buffers
    _call_impl _compiled_call_impl _forward_hooks _forward_hooks_always_called
    _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
    _get_backward_hooks _get_backward_pre_hooks _get_name _is_full_backward_hook
    _load_from_state_dict _load_state_dict_post_hooks _load_state_dict_pre_hooks
    _maybe_warn_non_full_backward_hook _modules _named_members
    _non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook
    _register_state_dict_hook _replicate_for_data_parallel _save_to_state_dict
    _slow_forward _state_dict_hooks _state_dict_pre_hooks _version _wrapped_call_impl
    add_module apply bfloat16 buffers call_super_init children compile cpu cuda double
    dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
    get_submodule half ipu load_state_dict modules mtia named_buffers named_children
    named_modules named_parameters parameters register_backward_hook register_buffer
    register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
    set_extra_state set_submodule share_memory state_dict to to_empty train training
    type xpu zero_grad
    """)

# dir() of keras.Model, keras.layers.Layer and instances of both, keras 3.15.1
KERAS_ATTRIBUTES = _words("""
    __annotations__ __call__ __class__ __delattr__ __dict__ __dir__ __doc__ __eq__ __format__ __ge__
    __getattribute__ __getstate__ __gt__ __hash__ __init__ __init_subclass__ __le__
    __lt__ __module__ __ne__ __new__ __reduce__ __reduce_ex__ __repr__ __setattr__
    __sizeof__ __str__ __subclasshook__ __weakref__ _add_trackable_child
    _add_variable_with_custom_getter _adjust_input_rank _aggregate_additional_loss
    _allow_non_tensor_positional_args _api_export_path _api_export_symbol_id
    _assert_compile_called _assert_input_compatibility _assign_variable_values
    _auto_config _autoconvert_optionals _awq_call _build_at_init
    _build_by_run_for_kwargs _build_by_run_for_single_pos_arg _build_shapes_dict
    _call_context_args _call_has_context_arg _call_has_mask_arg _call_has_training_arg
    _call_signature _called _check_load_own_variables _check_quantize_args
    _check_super_called _checkpoint_adapter _checkpoint_dependencies _clear_losses
    _compile_loss _compile_metrics _compiled_metrics_update_state _compute_loss
    _compute_loss_has_training_arg _convert_input_args _convert_inputs_to_tensors
    _convert_tracked_collections _copy_trackable_to_cpu _create_nested_dict
    _default_save_signature _deferred_dependencies _delete_tracking
    _deserialization_dependencies _deserialize_from_proto _distribute_strategy
    _dtype_policy _export_to_saved_model_graph _flatten_layers _flatten_metrics_in_order
    _flatten_nested_dict _float8_call _gather_saveables_for_checkpoint _get_call_context
    _get_metrics_result_or_logs _get_node_attribute_at_index _get_operation_for_node
    _get_own_losses _get_own_metrics _get_regularization_losses _get_save_spec
    _get_variable_map _gptq_call _handle_deferred_dependencies _inbound_nodes
    _initial_epoch _initialize_tracker _input_spec _inputs _inputs_struct _int4_call
    _int8_call _jit_compile _layers _lock _lock_state _lookup_dependency _loss_ids
    _loss_tracker _losses _losses_override _make_function _maybe_build
    _maybe_initialize_trackable _maybe_reset_call_context _maybe_symbolic_build
    _maybe_warn_inputs_struct_mismatch _metrics _name_based_attribute_restore
    _name_based_restores _no_dependency _nodes _nodes_by_depth _non_trainable_variables
    _not_implemented_error _obj_type _object_identifier _open_name_scope _operations
    _operations_by_depth _outbound_nodes _outputs _outputs_struct _parent_path _path
    _post_build _post_quantize _post_track_variable _post_untrack_variable
    _preload_simple_restoration _quantization_mode_error _register_call_context_args
    _remat_mode _resolve_and_populate_arg _resolve_auto_jit_compile
    _restore_from_tensors _run_eagerly _run_through_graph _saved_model_arg_spec
    _saved_model_inputs_spec _seed_generators _self_name_based_restores
    _self_saveable_object_factories _self_setattr_tracking
    _self_unconditional_checkpoint_dependencies
    _self_unconditional_deferred_dependencies _self_unconditional_dependency_names
    _self_update_uid _serialize_to_proto _serialize_to_tensors _set_mask_metadata
    _set_save_spec _setattr_hook _setattr_tracking _setup_nnx_op_mapping _should_eval
    _standardize_inputs _supports_masking _symbolic_build _tf_api_names _tf_api_names_v1
    _track_trackable _track_variable _trackable_children _tracked _tracker _trainable
    _trainable_variables _unconditional_checkpoint_dependencies
    _unconditional_dependency_names _unpickle_model _untrack_variable _update_uid
    _warn_if_trainable_state_changed activity_regularizer add_loss add_metric
    add_variable add_weight autocast build build_from_config built call
    call_signature_parameters compile compile_from_config compiled compiled_loss
    compiled_metrics compute_dtype compute_loss compute_mask compute_metrics
    compute_output_shape compute_output_spec count_params distribute_reduction_method
    distribute_strategy dtype dtype_policy evaluate export fit from_config
    get_build_config get_compile_config get_config get_layer get_metrics_result
    get_quantization_layer_structure get_state_tree get_weights input input_dtype
    input_shape input_spec inputs jit_compile layers load_own_variables load_weights
    loss losses make_predict_function make_test_function make_train_function metrics
    metrics_names metrics_variables name non_trainable_variables non_trainable_weights
    operations output output_names output_shape outputs path predict predict_function
    predict_on_batch predict_step quantization_mode quantize quantized_build
    quantized_call rematerialized_call reset_metrics run_eagerly save save_own_variables
    save_weights set_state_tree set_weights stateless_call stateless_compute_loss
    steps_per_execution summary supports_jit supports_masking symbolic_call
    test_function test_on_batch test_step to_json train_function train_on_batch
    train_step trainable trainable_variables trainable_weights
    unrolled_steps_per_execution variable_dtype variables weights
    """)

# the methods the generated PyTorch classes add (`Net.fuse()`, `Block.fold_batchnorms()`)
GENERATED_METHODS = _words("fuse fold_batchnorms")

# every scope reserves these; a table adds the names its templates use
RESERVED = KEYWORDS | BUILTINS | TORCH_MODULE_ATTRIBUTES | KERAS_ATTRIBUTES | GENERATED_METHODS


def mangled(name: str) -> bool:
    """Whether Python would mangle `self.name` inside a class body (`__x`, not `__x__`)."""
    return name.startswith("__") and not name.endswith("__")


class NameTable:
    """The names of one scope (a generated module, function or class body).

    `take` gives a wanted name, or when that is reserved or taken, the name with `_` appended
    until it is free (`None` -> `None_`); a name Python would mangle first gets `__` appended.
    `fresh` numbers names (`part1`, `part2`, ...), skipping numbers in use, with a counter per
    base, so n names cost O(n).  A child table (a function inside a module) also avoids the
    names its parent gives out, since a local shadows a global of the same name.
    """

    __slots__ = ("counts", "extra", "parent", "used")

    def __init__(self, reserved: Iterable[str] = (), parent: NameTable | None = None) -> None:
        self.extra = frozenset(reserved)
        self.parent = parent
        self.used: set[str] = set()
        self.counts: dict[str, int] = {}

    def taken(self, name: str) -> bool:
        """Reserved in this scope or an enclosing one, or given out there already."""
        table: NameTable | None = self
        while table is not None:
            if name in table.used or name in table.extra:
                return True
            table = table.parent
        return name in RESERVED

    def take(self, name: str) -> str:
        """`name`, or the nearest free name made from it; marked as used."""
        if mangled(name):
            name += "__"
        while self.taken(name):
            name += "_"
        self.used.add(name)
        return name

    def fresh(self, base: str, numbered: bool = False) -> str:
        """`base` (unless `numbered`) or `base1`, `base2`, ...: the first one not in use."""
        if numbered and self.parent is None and not self.extra:  # the common case, fast
            k = self.counts.get(base, 0) + 1
            name = f"{base}{k}"
            if name not in self.used and name not in RESERVED and name[:2] != "__":
                self.counts[base] = k
                self.used.add(name)
                return name
        if not numbered and not self.taken(base):
            self.used.add(base)
            return base
        k = self.counts.get(base, 0) + 1
        name = f"{base}{k}"
        while name not in RESERVED and self.taken(name):
            k += 1
            name = f"{base}{k}"
        self.counts[base] = k
        return self.take(name)
