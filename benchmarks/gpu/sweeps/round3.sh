b="--modules 0 --epochs 2 --max-steps 1000 --lora-r 16 --lora-alpha 32 --balance --learning-rate 1e-3 --hard-negatives"
o="--ungrouped --base-dropout"
run gbd_hard $b --base-dropout & run ung_nobd_hard $b --ungrouped & run old_pk_hard1 $b $o --packages --epochs 1 & run gbd_pk_hard1 $b --base-dropout --packages --epochs 1 & wait
run old_pk_hard2 $b $o --packages & run gbd_pk_hard2 $b --base-dropout --packages & run old_hard_lr2e3 $b $o --learning-rate 2e-3 & run old_hard_r64 $b $o --lora-r 64 --lora-alpha 128 & wait
